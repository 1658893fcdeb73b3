/**
 * The config module's public face: load a file into a frozen MeshConfig.
 */
export type * from './types.js'
export { loadConfig, parseConfig } from './load.js'
export { DEFAULTS } from './defaults.js'
export { parseDuration, parseSize } from './units.js'
export { parseHostPort, formatHostPort, type HostPort } from './address.js'
