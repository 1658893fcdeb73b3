// Keeps per-endpoint balancer state across discovery updates, keyed by endpoint key.
import type { Endpoint } from '../discovery/types.js'

/** An endpoint and the state a balancer keeps for it. */
export interface Slot<S> {
  endpoint: Endpoint
  state: S
}

/**
 * Builds the slot list for a new endpoint set: endpoints whose key was already known keep their
 * state (so latency, load and in-flight counts survive an update); new ones get `create()`.
 * The endpoint object itself is replaced, so weight or identity changes take effect.
 */
export function reconcile<S> (previous: ReadonlyMap<string, Slot<S>>, endpoints: readonly Endpoint[], create: (endpoint: Endpoint) => S): Map<string, Slot<S>> {
  const next = new Map<string, Slot<S>>()
  for (const endpoint of endpoints) {
    if (next.has(endpoint.key)) continue
    const old = previous.get(endpoint.key)
    next.set(endpoint.key, { endpoint, state: old !== undefined ? old.state : create(endpoint) })
  }
  return next
}

/** Wraps `fn` so only its first call has an effect (a Pick's `done` is called exactly once). */
export function once<A extends unknown[]> (fn: (...args: A) => void): (...args: A) => void {
  let called = false
  return (...args: A) => {
    if (called) return
    called = true
    fn(...args)
  }
}
