// A small Kubernetes API server for tests: EndpointSlice and Pod list + watch in the real wire format.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR'
export type Json = Record<string, unknown>

/** The collections served: EndpointSlices (discovery.k8s.io/v1) and Pods (core v1). */
export type Collection = 'endpointslices' | 'pods'

interface Recorded { collection: Collection, type: WatchEventType, object: Json, rv: number }
interface Watcher { collection: Collection, selected: (o: Json) => boolean }

/** What the source asked for, in order. */
export interface SeenRequest { path: string, query: URLSearchParams, authorization: string | undefined }

/**
 * Serves `GET /apis/discovery.k8s.io/v1/namespaces/<ns>/endpointslices` with `labelSelector`, and
 * `GET /api/v1/namespaces/<ns>/pods`, as a list (`EndpointSliceList`, `PodList`) or, with
 * `watch=1`, as a chunked stream of one JSON watch event per line, replaying the events after the asked resourceVersion first (like the API server's
 * watch cache). `expire()` makes older resourceVersions answer 410 — as an HTTP status or, as the
 * real API server does for an expired watch, a 200 stream carrying an ERROR event with code 410.
 */
export class FakeKubeApi {
  readonly requests: SeenRequest[] = []
  private server: Server | undefined
  private rv = 100
  private readonly stored: Record<Collection, Map<string, Json>> = { endpointslices: new Map(), pods: new Map() }
  private readonly history: Recorded[] = []
  /** Open watches: the collection and the label selection each asked for. */
  private readonly watchers = new Map<ServerResponse, Watcher>()
  /** Pods answer 403 Forbidden (no RBAC for them) while true. */
  forbidPods = false
  private oldestValid = 0
  private goneAs: 'status' | 'event' = 'status'

  async start (): Promise<string> {
    this.server = createServer((req, res) => { this.handle(req, res) })
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve))
    return `http://127.0.0.1:${(this.server?.address() as AddressInfo).port}`
  }

  get resourceVersion (): string {
    return String(this.rv)
  }

  /** Stores a slice and sends the event to open watches. */
  emit (type: 'ADDED' | 'MODIFIED' | 'DELETED', slice: Json): void {
    this.store('endpointslices', type, slice)
  }

  /** Stores a pod and sends the event to open pod watches. */
  emitPod (type: 'ADDED' | 'MODIFIED' | 'DELETED', pod: Json): void {
    this.store('pods', type, pod)
  }

  private store (collection: Collection, type: 'ADDED' | 'MODIFIED' | 'DELETED', given: Json): void {
    this.rv += 1
    const object = { ...given, metadata: { ...(given.metadata as Json), resourceVersion: String(this.rv) } }
    const name = (object.metadata as Json).name as string
    if (type === 'DELETED') this.stored[collection].delete(name)
    else this.stored[collection].set(name, object)
    this.history.push({ collection, type, object, rv: this.rv })
    this.broadcast(collection, { type, object })
  }

  /** Writes a raw line to every open watch (for unknown types or broken lines). */
  raw (line: string): void {
    for (const res of this.watchers.keys()) res.write(line + '\n')
  }

  /** A BOOKMARK with the current resourceVersion. */
  bookmark (): void {
    this.broadcast('endpointslices', { type: 'BOOKMARK', object: { kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1', metadata: { resourceVersion: this.resourceVersion } } })
  }

  /** Resource versions up to now expire: watches from them get 410. */
  expire (as: 'status' | 'event'): void {
    this.oldestValid = this.rv + 1
    this.goneAs = as
  }

  /** Cuts every open watch connection abruptly. */
  drop (): void {
    for (const res of this.watchers.keys()) res.socket?.destroy()
    this.watchers.clear()
  }

  /** Open EndpointSlice watches. */
  get openWatches (): number {
    return [...this.watchers.values()].filter((w) => w.collection === 'endpointslices').length
  }

  /** Open Pod watches. */
  get openPodWatches (): number {
    return [...this.watchers.values()].filter((w) => w.collection === 'pods').length
  }

  async stop (): Promise<void> {
    this.drop()
    this.server?.closeAllConnections()
    await new Promise<void>((resolve) => { if (this.server === undefined) resolve(); else this.server.close(() => resolve()) })
  }

  private broadcast (collection: Collection, event: { type: WatchEventType, object: Json }): void {
    const line = JSON.stringify(event) + '\n'
    for (const [res, w] of this.watchers) if (w.collection === collection && (event.type === 'BOOKMARK' || w.selected(event.object))) res.write(line)
  }

  private handle (req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x')
    this.requests.push({ path: url.pathname, query: url.searchParams, authorization: req.headers.authorization })
    const slices = /^\/apis\/discovery\.k8s\.io\/v1\/namespaces\/([^/]+)\/endpointslices$/.exec(url.pathname)
    const pods = /^\/api\/v1\/namespaces\/([^/]+)\/pods$/.exec(url.pathname)
    if (req.headers.authorization !== 'Bearer test-token') return this.status(res, 401, 'Unauthorized')
    if (slices === null && pods === null) return this.status(res, 404, 'NotFound')
    const collection: Collection = slices !== null ? 'endpointslices' : 'pods'
    if (collection === 'pods' && this.forbidPods) return this.status(res, 403, 'Forbidden', 'pods is forbidden: User "system:serviceaccount:shop:meshgate" cannot list resource "pods"')
    const selector = url.searchParams.get('labelSelector') ?? ''
    const [label, value] = selector.split('=')
    const selected = (o: Json): boolean => selector === '' || ((o.metadata as Json).labels as Record<string, string> | undefined)?.[label ?? ''] === value
    if (url.searchParams.get('watch') !== '1') {
      res.writeHead(200, { 'content-type': 'application/json' })
      const kind = collection === 'pods' ? { kind: 'PodList', apiVersion: 'v1' } : { kind: 'EndpointSliceList', apiVersion: 'discovery.k8s.io/v1' }
      res.end(JSON.stringify({ ...kind, metadata: { resourceVersion: this.resourceVersion }, items: [...this.stored[collection].values()].filter(selected) }))
      return
    }
    const from = Number(url.searchParams.get('resourceVersion') ?? '0')
    if (from < this.oldestValid && this.goneAs === 'status') return this.status(res, 410, 'Expired', `too old resource version: ${from} (${this.oldestValid})`)
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' })
    if (from < this.oldestValid) {
      res.end(JSON.stringify({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: `too old resource version: ${from} (${this.oldestValid})`, reason: 'Expired', code: 410 } }) + '\n')
      return
    }
    for (const e of this.history) if (e.collection === collection && e.rv > from && selected(e.object)) res.write(JSON.stringify({ type: e.type, object: e.object }) + '\n')
    this.watchers.set(res, { collection, selected })
    res.on('close', () => this.watchers.delete(res))
  }

  private status (res: ServerResponse, code: number, reason: string, message = reason): void {
    res.writeHead(code, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code }))
  }
}

/**
 * An EndpointSlice of Service `service` in the real shape; `ips` ready unless listed in `notReady`.
 * Endpoint i's targetRef names Pod `podName(i)` (default `<service>-<i>`).
 */
export function endpointSlice (name: string, service: string, ips: string[], notReady: string[] = [], port = 8080, podName = (i: number): string => `${service}-${i}`): Json {
  return {
    kind: 'EndpointSlice',
    apiVersion: 'discovery.k8s.io/v1',
    metadata: { name, namespace: 'shop', labels: { 'kubernetes.io/service-name': service, 'endpointslice.kubernetes.io/managed-by': 'endpointslice-controller.k8s.io' }, generateName: `${service}-` },
    addressType: 'IPv4',
    endpoints: [...ips, ...notReady].map((ip, i) => ({
      addresses: [ip],
      conditions: { ready: !notReady.includes(ip), serving: true, terminating: false },
      nodeName: 'node-1',
      zone: 'zone-a',
      targetRef: { kind: 'Pod', namespace: 'shop', name: podName(i), uid: '00000000-0000-0000-0000-00000000000' + String(i) },
    })),
    ports: [{ name: 'metrics', port: 9100, protocol: 'TCP' }, { name: 'http', port, protocol: 'TCP', appProtocol: 'http' }],
  }
}

/** A Pod in the real shape (the fields a kubelet and the API server fill in, trimmed), with `labels`. */
export function pod (name: string, ip: string, labels: Record<string, string>, namespace = 'shop'): Json {
  return {
    kind: 'Pod',
    apiVersion: 'v1',
    metadata: { name, namespace, uid: `uid-${name}`, labels: { 'pod-template-hash': '5d4f8c7b9', ...labels }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs-1', controller: true }] },
    spec: { containers: [{ name: 'app', image: 'example/app:1', ports: [{ containerPort: 8080 }] }], nodeName: 'node-1' },
    status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], conditions: [{ type: 'Ready', status: 'True' }] },
  }
}
