/**
 * V8 settings for the start-up burst, undone once the proxy is up. cli.ts imports this module
 * before the command, so they hold while the config, the proxy and their ~200 modules load.
 *
 * Loading modules is a burst of long-lived allocations and of calls into Node's module resolver,
 * and V8 reacts as it would to heavy traffic: it grows the young generation (1 MB → 4 MB
 * semi-spaces) and compiles the resolver's path helpers and the YAML parser with Sparkplug and
 * TurboFan. A sidecar then mostly waits, and pays for all of it while idle: ~4 MB of young
 * generation stays committed, TurboFan's own code (~3.5 MB of the node binary) stays paged in,
 * and baseline code for functions that ran once stays in the heap. None of it speeds up anything
 * after start. `endStartup()` restores V8's defaults, so under load the young generation grows
 * and hot code is compiled exactly as before (bench/: the same CPU per request and per MB).
 *
 * A flag the user set on the command line or in NODE_OPTIONS is left alone.
 */
import { setFlagsFromString } from 'node:v8'

/** What this module sets for start-up, and V8's default (Node 20, V8 11.3) that `endStartup()` restores. */
const SETTINGS = [
  { names: ['semi-space-growth-factor'], startup: '--semi-space-growth-factor=1', after: '--semi-space-growth-factor=2' },
  { names: ['turbofan', 'opt'], startup: '--no-turbofan', after: '--turbofan' },
  { names: ['sparkplug'], startup: '--no-sparkplug', after: '--sparkplug' },
]

const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].map((arg) => arg.replaceAll('_', '-'))
/** The settings the user did not choose on the command line or in NODE_OPTIONS. */
const owned = SETTINGS.filter((s) => !given.some((arg) => s.names.some((name) => new RegExp(`^--(no-)?${name}(=|$)`).test(arg))))
for (const s of owned) setFlagsFromString(s.startup)

let ended = false

/** Puts V8's defaults back for the flags this module set. Safe twice. */
export function endStartup (): void {
  if (ended) return
  ended = true
  for (const s of owned) setFlagsFromString(s.after)
}
