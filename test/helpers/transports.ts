/**
 * The peer transports pair tests carry their traffic over: h2 always, h3 when the QUIC addon
 * loads here (skipped with the addon's install hint otherwise), and which transports a pair's
 * outbound side really used.
 */
import { h3Availability } from '../../transports/h3/index.js'
import type { Pair } from './pair.js'

export interface PairTransport {
  name: 'h2' | 'h3'
  /** describe()'s `skip`: false, or why this transport cannot run here. */
  skip: string | false
}

/** `skip` for tests that need h3: false when the QUIC addon loads, else why not and what to install. */
export function h3Skip (): string | false {
  const availability = h3Availability()
  return availability.available ? false : `QUIC addon not built (${availability.installHint})`
}

/** h2, then h3; run a pair test's transport-dependent cases once per entry. */
export function pairTransports (): PairTransport[] {
  return [{ name: 'h2', skip: false }, { name: 'h3', skip: h3Skip() }]
}

/** The transports of the outbound side's pooled peer sessions, each once, e.g. `['h3']`. */
export function sessionTransports (pair: Pair): string[] {
  return [...new Set(pair.client.outbound?.pool.sessions().map((s) => s.transport) ?? [])]
}
