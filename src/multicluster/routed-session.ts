/**
 * A PeerSession that carries a service's streams across a remote cluster's gateway: every stream
 * gets the headers the gateway hop needs, and, inside an end-to-end tunnel, the workload target
 * the gateway named (the caller's own endpoint only knew the service). Everything else is the
 * wrapped session's.
 */
import type { Socket } from 'node:net'
import type { Readable } from 'node:stream'
import {
  WIRE_HEADERS, type PeerAddress, type PeerResponse, type PeerSession, type PeerTunnel, type RequestHead, type ResponseTarget,
  type SessionStats, type SplicedTunnel, type SpliceTunnelOptions, type StreamOptions,
} from '../../transports/contract.js'

/** Counts streams per cluster (the `meshgate_remote_cluster_streams_total` counter). */
export type StreamHook = (kind: 'request' | 'tunnel') => void

export class RoutedSession implements PeerSession {
  readonly #inner: PeerSession
  readonly #extra: Record<string, string>
  /** Set in e2e mode: the workload address the gateway picked (`meshgate-target`, CONNECT authority). */
  readonly #target: string | undefined
  readonly #onStream: StreamHook
  readonly requestTo?: (head: RequestHead, body: Readable | null, options: StreamOptions, to: ResponseTarget) => void
  readonly spliceTunnel?: (head: RequestHead, socket: Socket, options: SpliceTunnelOptions) => Promise<SplicedTunnel>

  constructor (inner: PeerSession, extraHeaders: Record<string, string>, target: string | undefined, onStream: StreamHook) {
    this.#inner = inner
    this.#target = target
    this.#extra = target === undefined ? extraHeaders : { ...extraHeaders, [WIRE_HEADERS.target]: target }
    this.#onStream = onStream
    const requestTo = inner.requestTo
    if (requestTo !== undefined) {
      this.requestTo = (head, body, options, to) => { this.#onStream('request'); requestTo.call(inner, this.#rewrite(head), body, options, to) }
    }
    const spliceTunnel = inner.spliceTunnel
    if (spliceTunnel !== undefined) {
      this.spliceTunnel = async (head, socket, options) => { this.#onStream('tunnel'); return await spliceTunnel.call(inner, this.#rewrite(head), socket, options) }
    }
  }

  get transport (): string { return this.#inner.transport }
  get peerIdentity (): string { return this.#inner.peerIdentity }
  get remote (): PeerAddress { return this.#inner.remote }
  get available (): boolean { return this.#inner.available }
  get streamCapacity (): number { return this.#inner.streamCapacity }
  get closed (): boolean { return this.#inner.closed }
  /** The session the streams really go on (for tests and stats). */
  get inner (): PeerSession { return this.#inner }

  async request (head: RequestHead, body: Readable | null, options?: StreamOptions): Promise<PeerResponse> {
    this.#onStream('request')
    return await this.#inner.request(this.#rewrite(head), body, options)
  }

  async tunnel (head: RequestHead, options?: StreamOptions): Promise<PeerTunnel> {
    this.#onStream('tunnel')
    return await this.#inner.tunnel(this.#rewrite(head), options)
  }

  stats (): SessionStats { return this.#inner.stats() }
  async close (): Promise<void> { await this.#inner.close() }
  destroy (err?: Error): void { this.#inner.destroy(err) }
  onClose (listener: (err?: Error) => void): void { this.#inner.onClose(listener) }

  #rewrite (head: RequestHead): RequestHead {
    // A plain CONNECT names its target in :authority (HBONE shape); the rest carry it in a header.
    const authority = this.#target !== undefined && head.method === 'CONNECT' && head.protocol === undefined ? this.#target : head.authority
    return { ...head, authority, headers: { ...head.headers, ...this.#extra } }
  }
}
