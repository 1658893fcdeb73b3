/**
 * Discovery: a stream of updates per service (Reset | Add | Remove | DoesNotExist), produced by
 * sources (static, file, dns, kubernetes) and consumed by the balancers.
 */
import type { PeerAddress } from '../../transports/contract.js'
import type { TransportName } from '../config/types.js'

/** One place a service's traffic can go: a peer proxy and the workload behind it. */
export interface Endpoint {
  /** Stable key within a service: `<peer host:port>|<target>`. */
  key: string
  peer: PeerAddress
  /** SPIFFE identity the peer must present. */
  identity: string
  /** Workload `host:port` the peer delivers to (sent as `meshgate-target`). */
  target: string
  /** Relative weight (> 0). */
  weight: number
  transport: TransportName
  /** Zone or cluster, when the source knows it. */
  zone?: string
  /** Set when the endpoint is a remote cluster's gateway: how traffic crosses it (multi-cluster). */
  via?: GatewayRoute
  /** Labels routes select subsets by (`version: v2`), when the source carries them. */
  labels?: Readonly<Record<string, string>>
}

/** How an endpoint that is a remote cluster's gateway carries the service's traffic. */
export interface GatewayRoute {
  /** The cluster's name in `clusters`. */
  cluster: string
  /** The service's name at the gateway (as its exports call it). */
  service: string
  /**
   * `e2e`: an mTLS session with the final inbound runs inside a CONNECT tunnel to the gateway;
   * `terminate`: streams go to the gateway itself, which re-originates them.
   */
  mode: 'e2e' | 'terminate'
  /** Identities the final inbounds present (e2e: the inner session must show one of them). */
  identities: readonly string[]
}

export type DiscoveryUpdate =
  | { kind: 'reset', endpoints: Endpoint[] }
  | { kind: 'add', endpoints: Endpoint[] }
  | { kind: 'remove', keys: string[] }
  | { kind: 'doesNotExist' }

/** A source of endpoints for the services it serves. */
export interface DiscoverySource {
  /** e.g. `static`, `file:/etc/mesh/endpoints.yaml`, `dns`, `kubernetes`. */
  readonly name: string
  /**
   * Subscribes to one service. The source calls `onUpdate` with a `reset` (or `doesNotExist`)
   * as soon as it knows, then with changes. Returns the unsubscribe function.
   */
  watch: (service: string, onUpdate: (update: DiscoveryUpdate) => void) => () => void
  /** Stops timers, watches and sockets. Safe twice. */
  close: () => Promise<void>
}

export function endpointKey (peer: PeerAddress, target: string): string {
  return `${peer.host}:${peer.port}|${target}`
}
