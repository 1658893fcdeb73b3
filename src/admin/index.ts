/** The admin server, its live tap and helpers, for the process that wires meshgate together. */
export { startAdmin, type AdminOptions, type AdminServer } from './server.js'
export { TapHub, type TapFilter, type TapHubOptions, type TapRecord, type TapSink, type TapSubscribeOptions, type TapSubscription } from './tap.js'
export { redactSecrets, REDACTED } from './redact.js'
export { validLevels } from './log-level.js'
