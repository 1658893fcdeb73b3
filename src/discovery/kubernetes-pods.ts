// The labels of every Pod in one namespace, kept by a list + watch of /api/v1 pods.
import type { DiscoveryErrorCode } from './codes.js'
import type { KubernetesApiClient } from './kubernetes-api.js'
import { listWatch, type ListWatchTiming } from './kubernetes-watch.js'

/** Told which pod's labels changed (undefined: possibly all of them, after a list). */
type Listener = (pod: string | undefined) => void

function record (value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined
}

/** A pod's name and its string labels (other values ignored, as unknown fields are). */
function readPod (object: unknown): { name: string, labels: Record<string, string> } | undefined {
  const metadata = record(record(object)?.metadata)
  if (typeof metadata?.name !== 'string') return undefined
  const labels: Record<string, string> = {}
  for (const [k, v] of Object.entries(record(metadata.labels) ?? {})) if (typeof v === 'string') labels[k] = v
  return { name: metadata.name, labels }
}

function sameLabels (a: Readonly<Record<string, string>> | undefined, b: Readonly<Record<string, string>> | undefined): boolean {
  if (a === undefined || b === undefined) return a === b
  const keys = Object.keys(a)
  return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k])
}

/**
 * Pod name → labels for one namespace. `synced` turns true after the first complete list, or
 * after the first failure (then endpoints go on without pod labels rather than wait for them;
 * they gain them when a later list succeeds). Needs RBAC `get`, `list`, `watch` on `pods`.
 */
export class PodLabels {
  #pods = new Map<string, Record<string, string>>()
  #synced = false
  readonly #listeners = new Set<Listener>()
  /** The list+watch loop; ends when `signal` aborts. */
  readonly loop: Promise<void>

  constructor (api: KubernetesApiClient, timing: ListWatchTiming, readonly namespace: string, signal: AbortSignal, problem: (code: DiscoveryErrorCode, message: string) => void) {
    this.loop = listWatch(api, timing, {
      path: (query) => `/api/v1/namespaces/${encodeURIComponent(namespace)}/pods?${new URLSearchParams(query).toString()}`,
      listed: (items) => { this.#listed(items) },
      changed: (type, object) => { this.#changed(type, object) },
      problem: (code, message) => {
        problem(code, `pods of namespace ${namespace}: ${message}`)
        if (!this.#synced) this.#sync()
      },
    }, signal)
  }

  get synced (): boolean { return this.#synced }

  /** The labels of pod `name`, if known. */
  labels (name: string): Readonly<Record<string, string>> | undefined {
    return this.#pods.get(name)
  }

  /** Calls `listener` when pod labels change; returns the unsubscribe function. */
  onChange (listener: Listener): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  #sync (): void {
    this.#synced = true
    this.#tell(undefined)
  }

  #tell (pod: string | undefined): void {
    for (const listener of this.#listeners) listener(pod)
  }

  #listed (items: unknown[]): void {
    const pods = new Map<string, Record<string, string>>()
    for (const item of items) {
      const pod = readPod(item)
      if (pod !== undefined) pods.set(pod.name, pod.labels)
    }
    const changed = !this.#synced || pods.size !== this.#pods.size || [...pods].some(([name, labels]) => !sameLabels(labels, this.#pods.get(name)))
    this.#pods = pods
    if (!this.#synced) this.#synced = true
    if (changed) this.#tell(undefined)
  }

  #changed (type: 'ADDED' | 'MODIFIED' | 'DELETED', object: unknown): void {
    const pod = readPod(object)
    if (pod === undefined) return
    const before = this.#pods.get(pod.name)
    if (type === 'DELETED') this.#pods.delete(pod.name)
    else this.#pods.set(pod.name, pod.labels)
    if (!sameLabels(before, this.#pods.get(pod.name))) this.#tell(pod.name)
  }
}
