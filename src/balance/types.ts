/**
 * Balancing is one `pick()`: choose an endpoint of a service for one request or one tunnel, and
 * report back how it went so the balancer can learn (latency, load, failures).
 */
/** The part of an AbortSignal a wait for an endpoint listens to (an AbortSignal fits). */
export type { AbortSignalLike } from '../../transports/contract.js'
import type { Endpoint } from '../discovery/types.js'

export type PickKind = 'request' | 'tunnel'

/** The outcome of one use of an endpoint. */
export interface PickResult {
  ok: boolean
  /** Time to response head (requests) or to tunnel established, ms. */
  latencyMs: number
}

/** A chosen endpoint; call `done` exactly once when the request/tunnel ends. */
export interface Pick {
  endpoint: Endpoint
  done: (result: PickResult) => void
}

export interface Balancer {
  /** Replaces/adjusts the endpoint set; in-flight picks stay valid. */
  update: (endpoints: readonly Endpoint[]) => void
  /** An endpoint for this kind of traffic, or undefined when none is ready. */
  pick: (kind: PickKind) => Pick | undefined
  readonly size: number
}
