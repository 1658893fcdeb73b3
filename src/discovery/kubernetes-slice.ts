// Reads one discovery.k8s.io/v1 EndpointSlice into Endpoints, tolerating fields it does not know.
import type { TransportName } from '../config/types.js'
import { endpointKey, type Endpoint } from './types.js'

/** How a Kubernetes Service's slices become meshgate endpoints. */
export interface KubernetesServiceOptions {
  /** The Kubernetes Service name (slices carry the label `kubernetes.io/service-name`). */
  name: string
  /** Namespace of the Service (default: the source's namespace). */
  namespace?: string
  /** Port of the meshgate inbound listener on every pod: the peer port. */
  peerPort: number
  /** The slice port that is the workload's, by name or number (default: the slice's first port). */
  targetPort?: string | number
  /**
   * SPIFFE ID the peers must present. Template: `{namespace}`, `{service}`, `{pod}` (from the
   * endpoint's targetRef, else empty), e.g. `spiffe://cluster.local/ns/{namespace}/sa/web`.
   */
  identity: string
  /** Weight of every endpoint (default 1). */
  weight?: number
  /** Preferred transport (default `auto`). */
  transport?: TransportName
  /** Also use endpoints that are not ready but serving (default false). */
  includeNotReady?: boolean
}

export type SliceReading =
  | {
    ok: true
    name: string
    resourceVersion: string | undefined
    endpoints: Endpoint[]
    /** Per endpoint (same index): the name of the Pod its targetRef names in `namespace`, if any. */
    pods: Array<string | undefined>
  }
  | { ok: false, name: string | undefined, reason: string }

function record (value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Record<string, unknown> : undefined
}

/** A slice's `metadata.name` and `metadata.resourceVersion`, if present. */
export function sliceMeta (object: unknown): { name?: string, resourceVersion?: string } {
  const metadata = record(record(object)?.metadata)
  const out: { name?: string, resourceVersion?: string } = {}
  if (typeof metadata?.name === 'string') out.name = metadata.name
  if (typeof metadata?.resourceVersion === 'string') out.resourceVersion = metadata.resourceVersion
  return out
}

/**
 * Reads a slice. Only the fields used are checked (metadata.name, addressType, endpoints[].
 * addresses/conditions/zone/targetRef, ports[].name/port); unknown fields anywhere are ignored,
 * as clients must for forward compatibility. `endpoints: null` and `ports: null` mean none.
 * Endpoints whose `conditions.ready` is false are left out (unset counts as ready, per the API).
 */
export function readEndpointSlice (object: unknown, config: KubernetesServiceOptions, namespace: string): SliceReading {
  const slice = record(object)
  const { name, resourceVersion } = sliceMeta(object)
  const bad = (reason: string): SliceReading => ({ ok: false, name, reason })
  if (slice === undefined) return bad('not an object')
  if (name === undefined) return bad('metadata.name missing')
  const addressType = slice.addressType
  if (addressType !== undefined && addressType !== 'IPv4' && addressType !== 'IPv6' && addressType !== 'FQDN') return bad(`addressType ${String(addressType)} unknown`)
  const ports = slice.ports ?? []
  const list = slice.endpoints ?? []
  if (!Array.isArray(ports)) return bad('ports is not a list')
  if (!Array.isArray(list)) return bad('endpoints is not a list')
  let port: number | undefined
  for (const [i, p] of ports.entries()) {
    const entry = record(p)
    if (entry === undefined || (entry.port !== undefined && (typeof entry.port !== 'number' || !Number.isInteger(entry.port) || entry.port < 1 || entry.port > 65535))) return bad(`ports[${i}] is invalid`)
    const wanted = config.targetPort
    const matches = wanted === undefined ? port === undefined : typeof wanted === 'number' ? entry.port === wanted : entry.name === wanted
    if (matches && typeof entry.port === 'number') port = entry.port
  }
  // The slice's own labels (the EndpointSlice controller copies the Service's labels onto it):
  // what routes select subsets by. Pod labels are not in a slice: the source adds them (kubernetes-pods.ts).
  const sliceLabels = stringLabels(record(slice.metadata)?.labels)
  const endpoints: Endpoint[] = []
  const pods: Array<string | undefined> = []
  for (const [i, e] of list.entries()) {
    const entry = record(e)
    if (entry === undefined || !Array.isArray(entry.addresses) || entry.addresses.length === 0 || !entry.addresses.every((a) => typeof a === 'string' && a.length > 0)) {
      return bad(`endpoints[${i}].addresses is not a non-empty list of strings`)
    }
    const conditions = record(entry.conditions) ?? {}
    const ready = conditions.ready !== false || (config.includeNotReady === true && conditions.serving !== false)
    if (!ready || port === undefined) continue
    // Every address of one endpoint is the same pod; the first is the one to use (API docs).
    const address = entry.addresses[0] as string
    const peer = { host: address, port: config.peerPort }
    const target = `${address.includes(':') ? `[${address}]` : address}:${port}`
    const ref = record(entry.targetRef)
    const pod = ref?.name
    const endpoint: Endpoint = {
      key: endpointKey(peer, target),
      peer,
      identity: config.identity.replaceAll('{namespace}', namespace).replaceAll('{service}', config.name).replaceAll('{pod}', typeof pod === 'string' ? pod : ''),
      target,
      weight: config.weight ?? 1,
      transport: config.transport ?? 'auto',
    }
    if (typeof entry.zone === 'string') endpoint.zone = entry.zone
    if (sliceLabels !== undefined) endpoint.labels = sliceLabels
    endpoints.push(endpoint)
    const podNamespace = ref?.namespace ?? namespace
    pods.push(ref?.kind === 'Pod' && typeof pod === 'string' && podNamespace === namespace ? pod : undefined)
  }
  return { ok: true, name, resourceVersion, endpoints, pods }
}

/** A label map's string entries (others ignored, as unknown fields are) but Kubernetes' own; undefined when none. */
function stringLabels (value: unknown): Record<string, string> | undefined {
  const labels = record(value)
  if (labels === undefined) return undefined
  const out: Record<string, string> = {}
  // The controller's own labels (kubernetes.io/service-name, endpointslice.kubernetes.io/managed-by) are not the app's.
  for (const [k, v] of Object.entries(labels)) if (typeof v === 'string' && !/(^|\.)(kubernetes|k8s)\.io\//.test(k)) out[k] = v
  return Object.keys(out).length === 0 ? undefined : out
}
