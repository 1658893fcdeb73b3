/**
 * The peer transports pair tests carry their traffic over: h2 always, h3 when the QUIC addon
 * loads here (skipped with the addon's install hint otherwise), and which transports a pair's
 * outbound side really used; likewise the data planes h2 runs on (js always, native when the
 * engine addon loads).
 */
import type { DataPlane } from '../../src/data-plane.js'
import { h2NativeAvailability } from '../../transports/h2-native/index.js'
import { h3Availability } from '../../transports/h3/index.js'
import type { Pair } from './pair.js'

export interface PairTransport {
  name: 'h2' | 'h3'
  /** The pair's `dataPlane:`: each transport runs once on each data plane. */
  dataPlane: DataPlane
  /** For describe(): `h2 (js)`, `h2 (native)`, `h3 (js)`, `h3 (native)`. */
  label: string
  /** describe()'s `skip`: false, or why this transport cannot run here. */
  skip: string | false
}

/** `skip` for tests that need h3: false when the QUIC addon loads, else why not and what to install. */
export function h3Skip (): string | false {
  const availability = h3Availability()
  return availability.available ? false : `QUIC addon not built (${availability.installHint})`
}

/**
 * h2 on the JS data plane, h2 on the native engine, then h3 on each (native: the QUIC addon
 * splices tunnels; js: their bytes go through JS streams); run a pair test's
 * transport-dependent cases once per entry with `startPair({ transport: t.name, dataPlane: t.dataPlane })`.
 */
export function pairTransports (): PairTransport[] {
  return [
    { name: 'h2', dataPlane: 'js', label: 'h2 (js)', skip: false },
    { name: 'h2', dataPlane: 'native', label: 'h2 (native)', skip: nativeSkip() },
    { name: 'h3', dataPlane: 'js', label: 'h3 (js)', skip: h3Skip() },
    { name: 'h3', dataPlane: 'native', label: 'h3 (native)', skip: h3Skip() || nativeSkip() },
  ]
}

export interface PairDataPlane {
  /** What the pair's configs say as `dataPlane:` (startPair's `dataPlane` option). */
  name: DataPlane
  /** describe()'s `skip`: false, or why this data plane cannot run here. */
  skip: string | false
}

/** `skip` for tests that need the native data plane: false when the engine addon loads, else why not and what to install. */
export function nativeSkip (): string | false {
  const availability = h2NativeAvailability()
  return availability.available ? false : `native h2 engine not available (${availability.reason.split('\n')[0] ?? ''}; ${availability.installHint})`
}

/**
 * js, then native: run a pair test's data-path cases once per entry, each in a describe() with
 * the entry's `skip`, starting its pair with `startPair({ dataPlane: entry.name })`.
 */
export const DATA_PLANES: readonly PairDataPlane[] = Object.freeze([
  { name: 'js', skip: false },
  { name: 'native', skip: nativeSkip() },
])

/** The transports of the outbound side's pooled peer sessions, each once, e.g. `['h3']`. */
export function sessionTransports (pair: Pair): string[] {
  return [...new Set(pair.client.outbound?.pool.sessions().map((s) => s.transport) ?? [])]
}
