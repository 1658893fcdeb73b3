// The per-service state a source holds and the subscribers it pushes resets to.
import { noopDiscoveryObserver, type DiscoveryObserver } from './observer.js'
import type { DiscoveryUpdate, Endpoint } from './types.js'

type Listener = (update: DiscoveryUpdate) => void

function fingerprint (endpoints: readonly Endpoint[]): string {
  return JSON.stringify([...endpoints].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)))
}

/**
 * Holds, per service, the last set a source published (or `null`: it does not exist) and fans
 * it out as `reset` / `doesNotExist`. Publishing an unchanged set sends nothing. A new
 * subscriber gets the current state on the next microtask, never inside `watch()`.
 */
export class ServiceFeed {
  private readonly state = new Map<string, { endpoints: Endpoint[] | null, print: string }>()
  private readonly listeners = new Map<string, Set<Listener>>()

  constructor (private readonly source: string, private readonly observer: DiscoveryObserver = noopDiscoveryObserver) {}

  /** The last published set, `null` if the service does not exist, undefined if not known yet. */
  current (service: string): readonly Endpoint[] | null | undefined {
    return this.state.get(service)?.endpoints
  }

  /** Services with a published state or a subscriber. */
  services (): string[] {
    return [...new Set([...this.state.keys(), ...this.listeners.keys()])]
  }

  watch (service: string, onUpdate: Listener): () => void {
    let set = this.listeners.get(service)
    if (set === undefined) this.listeners.set(service, set = new Set())
    const listener: Listener = (update) => { onUpdate(update) }
    set.add(listener)
    queueMicrotask(() => {
      const known = this.state.get(service)
      if (known !== undefined && set.has(listener)) listener(toUpdate(known.endpoints))
    })
    return () => { set.delete(listener) }
  }

  /** Publishes the whole set of a service (`null`: it does not exist). Returns true if it changed. */
  publish (service: string, endpoints: readonly Endpoint[] | null): boolean {
    const print = endpoints === null ? 'null' : fingerprint(endpoints)
    if (this.state.get(service)?.print === print) return false
    const copy = endpoints === null ? null : [...endpoints]
    this.state.set(service, { endpoints: copy, print })
    const update = toUpdate(copy)
    this.observer.updated(this.source, service, update.kind)
    this.observer.endpoints(this.source, service, copy?.length ?? 0)
    for (const listener of this.listeners.get(service) ?? []) listener(update)
    return true
  }

  /** Drops every subscriber. */
  close (): void {
    this.listeners.clear()
  }
}

function toUpdate (endpoints: Endpoint[] | null): DiscoveryUpdate {
  return endpoints === null ? { kind: 'doesNotExist' } : { kind: 'reset', endpoints: [...endpoints] }
}
