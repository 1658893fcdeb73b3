/**
 * Subsets of a service's endpoints by label (`demo` endpoints with `version: v2`), served as a
 * discovery source of their own so that each subset gets its own balancer: the source watches
 * the service in the source that serves it and passes on only the endpoints whose labels match.
 * A subset is named `<service>#<label>=<value>,…` (labels sorted), a name no service can have.
 */
import type { DiscoverySource, DiscoveryUpdate, Endpoint } from './types.js'

/** Name of the source in the directory (reserved, like `static`). */
export const SUBSET_SOURCE = 'subset'

/** The directory name of a subset of `service`. */
export function subsetName (service: string, labels: Readonly<Record<string, string>>): string {
  const pairs = Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`)
  return `${service}#${pairs.join(',')}`
}

/** True for a subset's name (`demo#version=v2`): no service name has a `#`. */
export function isSubsetName (name: string): boolean {
  return name.includes('#')
}

/** The service and labels a subset name stands for, or undefined for a plain service name. */
export function parseSubsetName (name: string): { service: string, labels: Record<string, string> } | undefined {
  const hash = name.indexOf('#')
  if (hash < 0) return undefined
  const labels: Record<string, string> = {}
  for (const pair of name.slice(hash + 1).split(',')) {
    const eq = pair.indexOf('=')
    if (eq > 0) labels[pair.slice(0, eq)] = pair.slice(eq + 1)
  }
  return { service: name.slice(0, hash), labels }
}

function selects (labels: Readonly<Record<string, string>>, endpoint: Endpoint): boolean {
  const own = endpoint.labels
  if (own === undefined) return false
  for (const key in labels) if (own[key] !== labels[key]) return false
  return true
}

export class SubsetSource implements DiscoverySource {
  readonly name = SUBSET_SOURCE

  /** `sourceOf(service)`: the source that serves a service (undefined: none). */
  constructor (private readonly sourceOf: (service: string) => DiscoverySource | undefined) {}

  watch (name: string, onUpdate: (update: DiscoveryUpdate) => void): () => void {
    const subset = parseSubsetName(name)
    const inner = subset === undefined ? undefined : this.sourceOf(subset.service)
    if (subset === undefined || inner === undefined) {
      queueMicrotask(() => onUpdate({ kind: 'doesNotExist' }))
      return () => {}
    }
    const { labels } = subset
    return inner.watch(subset.service, (update) => {
      switch (update.kind) {
        case 'reset': onUpdate({ kind: 'reset', endpoints: update.endpoints.filter((e) => selects(labels, e)) }); break
        case 'add': onUpdate({ kind: 'add', endpoints: update.endpoints.filter((e) => selects(labels, e)) }); break
        default: onUpdate(update) // removing keys the subset never had does nothing
      }
    })
  }

  /** The inner sources are closed by their owner. */
  async close (): Promise<void> {}
}
