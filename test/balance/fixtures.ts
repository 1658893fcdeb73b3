// Endpoints and a counting observer for the balancer tests.
import type { Endpoint } from '../../src/discovery/types.js'
import { endpointKey } from '../../src/discovery/types.js'
import { noopBalancerObserver, type BalancerObserver } from '../../src/balance/observer.js'

/** Endpoint `n` at peer 127.0.0.1:(10000+n) with the given weight. */
export function endpoint (n: number, weight = 1): Endpoint {
  const peer = { host: '127.0.0.1', port: 10_000 + n }
  const target = `127.0.0.1:${20_000 + n}`
  return { key: endpointKey(peer, target), peer, identity: `spiffe://test.local/ns/default/sa/e${n}`, target, weight, transport: 'h2' }
}

/** How many times each key was picked in `picks`. */
export function tally (keys: string[]): Map<string, number> {
  const counts = new Map<string, number>()
  for (const key of keys) counts.set(key, (counts.get(key) ?? 0) + 1)
  return counts
}

/** An observer that counts calls per method. */
export function countingObserver (): BalancerObserver & { counts: Record<string, number>, last: Record<string, unknown[]> } {
  const counts: Record<string, number> = {}
  const last: Record<string, unknown[]> = {}
  const observer = { counts, last } as BalancerObserver & { counts: Record<string, number>, last: Record<string, unknown[]> }
  for (const name of Object.keys(noopBalancerObserver) as Array<keyof BalancerObserver>) {
    (observer as unknown as Record<string, (...args: unknown[]) => void>)[name] = (...args: unknown[]) => {
      counts[name] = (counts[name] ?? 0) + 1
      last[name] = args
    }
  }
  return observer
}
