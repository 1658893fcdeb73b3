// One Kubernetes list + watch loop for a collection (EndpointSlices of a service, Pods of a namespace).
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import type { DiscoveryErrorCode } from './codes.js'
import { GoneError, KubernetesError, type KubernetesApiClient } from './kubernetes-api.js'

/** A watch that stayed open this long ended normally (server timeout), not by failing, ms. */
const HEALTHY_WATCH_MS = 1_000

export interface ListWatchTiming {
  /** First wait after a failure, ms; doubles up to `backoffMaxMs`. */
  backoffInitialMs: number
  backoffMaxMs: number
  /** Server-side watch timeout, s; the watch then resumes. */
  watchTimeoutSeconds: number
  /** Time allowed for one list page, ms. */
  listTimeoutMs: number
}

/** What a list+watch loop is about and what it tells. */
export interface ListWatchTarget {
  /** Called before the first list (again after a failure until it succeeds): e.g. resolves the namespace. */
  prepare?: () => Promise<void>
  /** The collection's path with `query` appended (list and watch share it). */
  path: (query: Record<string, string>) => string
  /** A complete list (every page): the collection is exactly these items. */
  listed: (items: unknown[]) => void
  /** One watch event about one object. */
  changed: (type: 'ADDED' | 'MODIFIED' | 'DELETED', object: unknown) => void
  /** A failure, with its code (the loop goes on after the backoff). */
  problem: (code: DiscoveryErrorCode, message: string) => void
  /** An event type this client does not know (ignored). */
  unknown?: (type: unknown) => void
}

function resourceVersionOf (object: unknown): string | undefined {
  const metadata = typeof object === 'object' && object !== null ? (object as { metadata?: unknown }).metadata : undefined
  const rv = typeof metadata === 'object' && metadata !== null ? (metadata as { resourceVersion?: unknown }).resourceVersion : undefined
  return typeof rv === 'string' ? rv : undefined
}

/**
 * List (paged, `limit=500` + `continue`), then watch from the list's resourceVersion with
 * bookmarks. A dropped or ended watch resumes from the last resourceVersion seen, after a backoff
 * (with jitter) that grows on failures and resets once a watch delivers events or stays up; 410
 * Gone (HTTP status or ERROR event) relists at once. Runs until `signal` aborts.
 */
export async function listWatch (api: KubernetesApiClient, timing: ListWatchTiming, target: ListWatchTarget, signal: AbortSignal): Promise<void> {
  let resourceVersion: string | undefined
  let prepared = target.prepare === undefined
  let backoff = timing.backoffInitialMs
  const pause = async (ms: number): Promise<void> => {
    if (signal.aborted) return
    await sleep(ms * (0.8 + 0.2 * Math.random()), undefined, { signal }).catch(() => {})
  }
  while (!signal.aborted) {
    try {
      if (!prepared) {
        await target.prepare?.()
        prepared = true
      }
      if (resourceVersion === undefined) resourceVersion = await list(api, timing, target, signal)
      const started = performance.now()
      const seen = { events: 0, resourceVersion }
      try {
        await watchOnce(api, timing, target, signal, seen)
      } finally {
        resourceVersion = seen.resourceVersion
      }
      if (seen.events > 0 || performance.now() - started >= HEALTHY_WATCH_MS) backoff = timing.backoffInitialMs
    } catch (err) {
      if (signal.aborted) return
      // A 410 to a watch means our resourceVersion is too old: relist at once. (One to a list
      // is an ordinary failure, retried after the backoff.)
      if (err instanceof GoneError && resourceVersion !== undefined) {
        target.problem('E_DISCOVERY_K8S_GONE', `resourceVersion ${resourceVersion} expired; relisting`)
        resourceVersion = undefined
        continue
      }
      target.problem(err instanceof KubernetesError ? err.code : 'E_DISCOVERY_K8S_STREAM', (err as Error).message)
      await pause(backoff)
      backoff = Math.min(timing.backoffMaxMs, backoff * 2)
      continue
    }
    await pause(backoff)
  }
}

/** Lists every page; returns the list's resourceVersion. */
async function list (api: KubernetesApiClient, timing: ListWatchTiming, target: ListWatchTarget, signal: AbortSignal): Promise<string | undefined> {
  const items: unknown[] = []
  let resourceVersion: string | undefined
  let cont: string | undefined
  do {
    const query: Record<string, string> = { limit: '500' }
    if (cont !== undefined) query.continue = cont
    const pageSignal = AbortSignal.any([signal, AbortSignal.timeout(timing.listTimeoutMs)])
    const body = await api.get(target.path(query), pageSignal, timing.listTimeoutMs)
    const page = await body.json() as { metadata?: { resourceVersion?: unknown, continue?: unknown }, items?: unknown }
    if (!Array.isArray(page.items)) throw new KubernetesError('E_DISCOVERY_K8S_HTTP', 'list answer has no items')
    items.push(...(page.items as unknown[]))
    resourceVersion = typeof page.metadata?.resourceVersion === 'string' ? page.metadata.resourceVersion : undefined
    cont = typeof page.metadata?.continue === 'string' && page.metadata.continue !== '' ? page.metadata.continue : undefined
  } while (cont !== undefined)
  target.listed(items)
  return resourceVersion
}

/** Streams one watch until it ends, counting events and following the resourceVersion in `seen`. */
async function watchOnce (api: KubernetesApiClient, timing: ListWatchTiming, target: ListWatchTarget, signal: AbortSignal, seen: { events: number, resourceVersion: string | undefined }): Promise<void> {
  const path = target.path({
    watch: '1',
    resourceVersion: seen.resourceVersion ?? '',
    allowWatchBookmarks: 'true',
    timeoutSeconds: String(timing.watchTimeoutSeconds),
  })
  const body = await api.get(path, signal, (timing.watchTimeoutSeconds + 30) * 1000)
  let buffered = ''
  const decoder = new TextDecoder()
  try {
    // One JSON watch event per line, in chunks that need not align with lines.
    for await (const chunk of body) {
      buffered += decoder.decode(chunk as Buffer, { stream: true })
      let newline: number
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline).trim()
        buffered = buffered.slice(newline + 1)
        if (line === '') continue
        const rv = event(target, line)
        if (rv !== undefined) seen.resourceVersion = rv
        seen.events += 1
      }
    }
  } finally {
    body.destroy()
  }
}

/** Handles one watch line; returns the resourceVersion it carries. */
function event (target: ListWatchTarget, line: string): string | undefined {
  let parsed: { type?: unknown, object?: unknown }
  try {
    parsed = JSON.parse(line) as { type?: unknown, object?: unknown }
  } catch {
    throw new KubernetesError('E_DISCOVERY_K8S_STREAM', `unreadable watch line: ${line.slice(0, 80)}`)
  }
  switch (parsed.type) {
    case 'ADDED':
    case 'MODIFIED':
    case 'DELETED':
      target.changed(parsed.type, parsed.object)
      break
    case 'BOOKMARK':
      break
    case 'ERROR': {
      const status = parsed.object as { code?: unknown, message?: unknown } | undefined
      if (status?.code === 410) throw new GoneError(String(status.message ?? 'Gone'))
      throw new KubernetesError('E_DISCOVERY_K8S_HTTP', `watch ERROR event: ${String(status?.code)} ${String(status?.message ?? '')}`)
    }
    default:
      target.unknown?.(parsed.type)
  }
  return resourceVersionOf(parsed.object)
}
