/**
 * The calling side of multi-cluster: sessions to remote clusters' gateways, their exports as a
 * discovery source, and the sessions a remote service's traffic goes on.
 *
 * - **e2e** (the default): one CONNECT tunnel to the gateway per inner session, naming the
 *   service; inside it our own mTLS h2 session with the final inbound (node:tls over the tunnel
 *   stream + node:http2), checked against the identity the gateway announced, which must be one
 *   the exports list. The gateway relays ciphertext; the inbound sees our identity.
 * - **terminate**: streams go to the gateway itself with `meshgate-gateway-service`.
 */
import type { Logger } from 'pino'
import type { RemoteClusterConfig, Timeouts } from '../config/types.js'
import { parseHostPort } from '../config/address.js'
import { GatewayExportsSource } from '../discovery/gateway-exports.js'
import type { DiscoveryObserver } from '../discovery/observer.js'
import type { Endpoint, GatewayRoute } from '../discovery/types.js'
import { MeshError, toMeshError } from '../../core/errors.js'
import { headerValue } from '../http/headers.js'
import { SessionPool } from '../outbound/session-pool.js'
import { selectorFor, type TransportSelector } from '../outbound/transport-selector.js'
import type { PeerAddress, PeerSession, TlsMaterial } from '../../transports/contract.js'
import type { TransportRegistry } from '../../transports/registry.js'
import { RoutedSession } from './routed-session.js'
import { EXPORTS_AUTHORITY, EXPORTS_MAX_BYTES, EXPORTS_PATH, GATEWAY_HEADERS, parseExports, type ExportsDocument } from './wire.js'

/** What the multi-cluster machinery reports (metrics bind it; every hook is cheap). */
export interface RemoteClusterObserver {
  /** An inner (e2e) session to a remote service was set up, or failed with `result` (a code). */
  innerSession: (cluster: string, result: string) => void
  /** A stream went to a remote cluster. */
  stream: (cluster: string, mode: string, kind: 'request' | 'tunnel') => void
  /** The exports were read (`ok`, with the number of services) or not (a code). */
  exportsRead: (cluster: string, result: string, services: number) => void
}

export const noopRemoteClusterObserver: RemoteClusterObserver = { innerSession: () => {}, stream: () => {}, exportsRead: () => {} }

export interface RemoteClustersOptions {
  clusters: Readonly<Record<string, RemoteClusterConfig>>
  /** This workload's TLS material; its CA (bundle) must hold the roots of the remote clusters. */
  tls: TlsMaterial
  transports: TransportRegistry
  timeouts: Timeouts
  logger: Logger
  observer?: RemoteClusterObserver
}

/** How often inner sessions are checked for an outer session going away, ms (1 s). */
const SWEEP_MS = 1000

interface InnerSet {
  cluster: string
  sessions: RoutedSession[]
  /** The gateway session each inner session's tunnel rides on. */
  outers: Map<RoutedSession, PeerSession>
  dialing: Promise<RoutedSession> | undefined
}

/** Codes of a failed dial that mean "the gateway is not there" rather than "it refused us". */
const UNREACHABLE = new Set(['E_PEER_UNREACHABLE', 'E_CONNECT_TIMEOUT'])

export class RemoteClusters {
  readonly #options: RemoteClustersOptions
  readonly #pool: SessionPool
  readonly #selector: TransportSelector
  readonly #gateways = new Map<string, Endpoint>()
  readonly #inner = new Map<string, InnerSet>()
  readonly #observer: RemoteClusterObserver
  #closed = false
  #sweeper: NodeJS.Timeout | undefined

  constructor (options: RemoteClustersOptions) {
    this.#options = { ...options }
    this.#observer = options.observer ?? noopRemoteClusterObserver
    // Backoff capped at 1 s: a gateway that comes back is used again within about a second.
    this.#pool = new SessionPool({ tls: options.tls, connectTimeoutMs: options.timeouts.connectMs, backoffMaxMs: 1000 })
    this.#selector = selectorFor(options.transports, this.#pool)
    for (const [name, cluster] of Object.entries(options.clusters)) {
      const peer = parseHostPort(cluster.gateway)
      if (peer === undefined) throw new MeshError('E_CONFIG', `clusters.${name}.gateway: not host:port`)
      this.#gateways.set(name, {
        key: `${cluster.gateway}|gateway`, peer, identity: cluster.identity, target: EXPORTS_AUTHORITY, weight: 1, transport: cluster.transport, zone: name,
      })
    }
  }

  /** The discovery source of one cluster's exports. */
  source (cluster: string, observer: DiscoveryObserver): GatewayExportsSource {
    const gw = this.#gateway(cluster)
    const config = this.#options.clusters[cluster]
    return new GatewayExportsSource({
      cluster,
      gateway: gw.peer,
      identity: gw.identity,
      transport: gw.transport,
      refreshMs: config.refreshMs,
      fetchExports: async () => await this.fetchExports(cluster),
    }, this.#options.logger.child({ component: 'discovery', source: 'gateway', cluster }), observer)
  }

  /** Reads a gateway's exports (the services it lets this workload reach). Rejects with a MeshError. */
  async fetchExports (cluster: string): Promise<ExportsDocument> {
    try {
      const session = await this.#outer(cluster)
      const response = await session.request({ method: 'GET', authority: EXPORTS_AUTHORITY, path: EXPORTS_PATH, scheme: 'https', headers: {} }, null)
      const chunks: Buffer[] = []
      let size = 0
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        size += chunk.length
        if (size > EXPORTS_MAX_BYTES) throw new MeshError('E_PEER_REFUSED', `exports of ${cluster} exceed ${EXPORTS_MAX_BYTES} bytes`)
        chunks.push(chunk)
      }
      if (response.head.status !== 200) throw new MeshError('E_PEER_REFUSED', `gateway of ${cluster} answered ${response.head.status} for its exports`)
      let doc: ExportsDocument
      try {
        doc = parseExports(Buffer.concat(chunks).toString('utf8'))
      } catch (err) {
        throw new MeshError('E_PEER_REFUSED', `gateway of ${cluster} sent unusable exports: ${(err as Error).message}`)
      }
      this.#observer.exportsRead(cluster, 'ok', Object.keys(doc.services).length)
      return doc
    } catch (err) {
      const meshErr = toMeshError(err, 'E_PEER_UNREACHABLE')
      this.#observer.exportsRead(cluster, meshErr.code, 0)
      throw meshErr
    }
  }

  /** The session a remote endpoint's stream goes on (inner session for e2e, the gateway's for terminate). */
  async session (endpoint: Endpoint): Promise<PeerSession> {
    const via = endpoint.via
    if (via === undefined) throw new MeshError('E_INTERNAL', `endpoint ${endpoint.key} is not a gateway route`)
    if (via.mode === 'terminate') return this.#terminated(await this.#outer(via.cluster), via)
    return this.readySession(endpoint) ?? await this.#dialInner(via)
  }

  /** session() without waiting, when a session with room is open; else undefined. */
  readySession (endpoint: Endpoint): PeerSession | undefined {
    const via = endpoint.via
    if (via === undefined) return undefined
    if (via.mode === 'terminate') {
      const gw = this.#gateway(via.cluster)
      const ready = this.#selector.readySession(gw)
      return ready === undefined ? undefined : this.#terminated(ready, via)
    }
    const set = this.#inner.get(innerKey(via))
    return set?.sessions.find((s) => s.available && s.streamCapacity > 0 && set.outers.get(s)?.available !== false)
  }

  /** Identity rotation: sessions to gateways (and inner end-to-end ones) dialled from now on use `tls`. */
  setTls (tls: TlsMaterial): void {
    this.#options.tls = tls
    this.#pool.setTls(tls)
  }

  async close (): Promise<void> {
    this.#closed = true
    clearInterval(this.#sweeper)
    const inner = [...this.#inner.values()].flatMap((s) => s.sessions)
    await Promise.allSettled(inner.map(async (s) => await s.close()))
    await this.#pool.close()
  }

  destroy (): void {
    this.#closed = true
    clearInterval(this.#sweeper)
    for (const set of this.#inner.values()) for (const s of set.sessions) s.destroy()
    this.#pool.destroy()
  }

  #gateway (cluster: string): Endpoint {
    const gw = this.#gateways.get(cluster)
    if (gw === undefined) throw new MeshError('E_NO_ROUTE', `no remote cluster ${cluster} in clusters`)
    return gw
  }

  /** A session to the cluster's gateway; an unreachable gateway is E_GATEWAY_UNREACHABLE. */
  async #outer (cluster: string): Promise<PeerSession> {
    const gw = this.#gateway(cluster)
    try {
      return await this.#selector.session(gw)
    } catch (err) {
      const meshErr = toMeshError(err, 'E_PEER_UNREACHABLE')
      if (!UNREACHABLE.has(meshErr.code)) throw meshErr
      throw new MeshError('E_GATEWAY_UNREACHABLE', `gateway of cluster ${cluster} (${gw.peer.host}:${gw.peer.port}) unreachable: ${meshErr.message}`, { cause: meshErr })
    }
  }

  /**
   * A gateway that drains sends GOAWAY on the outer session, but cannot see into the tunnels: the
   * inner sessions riding on it are closed gracefully here (their streams finish), so the gateway
   * is not held until its drain deadline and new streams go on a fresh tunnel. So are inner
   * sessions on an h2 tunnel once h3 to their gateway is up (#h3Ready).
   */
  #sweep (): void {
    for (const set of this.#inner.values()) {
      const h3Ready = this.#h3Ready(set.cluster)
      for (const [inner, outer] of set.outers) {
        if (inner.closed || (outer.available && !(h3Ready && outer.transport === 'h2'))) continue
        set.outers.delete(inner)
        const i = set.sessions.indexOf(inner)
        if (i >= 0) set.sessions.splice(i, 1)
        inner.close().catch(() => {})
      }
    }
  }

  #terminated (session: PeerSession, via: GatewayRoute): RoutedSession {
    return new RoutedSession(session, { [GATEWAY_HEADERS.service]: via.service }, undefined, (kind) => this.#observer.stream(via.cluster, 'terminate', kind))
  }

  /**
   * An `auto` gateway has a pooled h3 session with room: an inner session whose tunnel rides h2
   * (h3 lost the start-up race, or was held off for h3.autoRetryH3Ms) is then closed gracefully by
   * the sweep like one on a draining gateway, and its successor's tunnel goes on h3. Only once h3
   * is up: a gateway whose UDP is blocked keeps its inner sessions on h2 undisturbed.
   */
  #h3Ready (cluster: string): boolean {
    const gw = this.#gateways.get(cluster)
    if (gw === undefined || gw.transport !== 'auto' || !this.#options.transports.has('h3')) return false
    return this.#pool.tryGet(this.#options.transports.get('h3'), gw.peer, gw.identity) !== undefined
  }

  async #dialInner (via: GatewayRoute): Promise<RoutedSession> {
    const key = innerKey(via)
    let set = this.#inner.get(key)
    if (set === undefined) this.#inner.set(key, set = { cluster: via.cluster, sessions: [], outers: new Map(), dialing: undefined })
    // One dial at a time per service: concurrent callers share the session it brings.
    set.dialing ??= this.#openInner(via, set).finally(() => { if (set !== undefined) set.dialing = undefined })
    return await set.dialing
  }

  async #openInner (via: GatewayRoute, set: InnerSet): Promise<RoutedSession> {
    const gw = this.#gateway(via.cluster)
    try {
      if (this.#closed) throw new MeshError('E_DRAINING', 'shutting down')
      const outer = await this.#outer(via.cluster)
      const tunnel = await outer.tunnel({
        method: 'CONNECT',
        authority: via.service,
        path: '',
        scheme: 'https',
        headers: { [GATEWAY_HEADERS.mode]: 'e2e', [GATEWAY_HEADERS.service]: via.service },
      })
      const peerIdentity = headerValue(tunnel.head.headers, GATEWAY_HEADERS.peerIdentity)
      const target = headerValue(tunnel.head.headers, 'meshgate-target')
      if (peerIdentity === undefined || target === undefined || (via.identities.length > 0 && !via.identities.includes(peerIdentity))) {
        tunnel.stream.destroy()
        throw new MeshError('E_PEER_IDENTITY', `gateway of ${via.cluster} named identity ${peerIdentity ?? '(none)'} for ${via.service}, not one its exports list (${via.identities.join(', ')})`)
      }
      const address: PeerAddress = gw.peer
      const session = await this.#options.transports.get('h2').connect({
        address,
        expectedIdentity: peerIdentity,
        tls: this.#options.tls,
        connectTimeoutMs: this.#options.timeouts.connectMs,
        over: tunnel.stream,
      }).catch((err: unknown) => { tunnel.stream.destroy(); throw err })
      const routed = new RoutedSession(session, {}, target, (kind) => this.#observer.stream(via.cluster, 'e2e', kind))
      set.sessions.push(routed)
      set.outers.set(routed, outer)
      session.onClose(() => {
        const i = set.sessions.indexOf(routed)
        if (i >= 0) set.sessions.splice(i, 1)
        set.outers.delete(routed)
        tunnel.stream.destroy()
      })
      this.#sweeper ??= setInterval(() => this.#sweep(), SWEEP_MS).unref()
      this.#observer.innerSession(via.cluster, 'ok')
      this.#options.logger.debug({ cluster: via.cluster, service: via.service, peer: peerIdentity, target, transport: outer.transport }, 'e2e session through the gateway up')
      return routed
    } catch (err) {
      const meshErr = toMeshError(err, 'E_PEER_UNREACHABLE')
      this.#observer.innerSession(via.cluster, meshErr.code)
      throw meshErr
    }
  }
}

function innerKey (via: GatewayRoute): string {
  return `${via.cluster}|${via.service}`
}
