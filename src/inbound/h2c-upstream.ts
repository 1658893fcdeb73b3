/**
 * Delivery of HTTP requests to a local workload over h2c (HTTP/2 with prior knowledge), one
 * session per target address, reopened when it closes or receives GOAWAY.
 */
import http2 from 'node:http2'
import type { ClientHttp2Session, IncomingHttpHeaders } from 'node:http2'
import type { Timeouts } from '../config/types.js'
import { MeshError } from '../errors.js'
import { endToEndHeaders, forwardableTrailers } from '../http/headers.js'
import type { HeaderMap, InboundExchange, PeerResponse } from '../../transports/contract.js'
import { upstreamError } from './upstream-errors.js'

export class H2cUpstream {
  readonly #sessions = new Map<string, ClientHttp2Session>()
  readonly #timeouts: Timeouts

  constructor (timeouts: Timeouts) {
    this.#timeouts = timeouts
  }

  async #session (address: string): Promise<ClientHttp2Session> {
    const existing = this.#sessions.get(address)
    if (existing !== undefined && !existing.closed && !existing.destroyed) return existing
    const session = http2.connect(`http://${address}`, { settings: { initialWindowSize: 4 << 20 } })
    this.#sessions.set(address, session)
    const forget = (): void => { if (this.#sessions.get(address) === session) this.#sessions.delete(address) }
    session.once('close', forget)
    session.once('goaway', forget)
    session.on('error', forget)
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { session.destroy(); reject(new MeshError('E_CONNECT_TIMEOUT', `${address}: h2c connect timed out`)) }, this.#timeouts.connectMs)
      session.once('connect', () => { clearTimeout(timer); session.setLocalWindowSize(16 << 20); resolve() })
      session.once('error', (err) => { clearTimeout(timer); reject(upstreamError(err, address)) })
    })
    return session
  }

  /** Sends the exchange to `address`; resolves with the workload's response head. Rejects with a MeshError. */
  async deliver (exchange: InboundExchange, address: string, headers: HeaderMap): Promise<PeerResponse> {
    const session = await this.#session(address)
    const stream = session.request({
      ...headers,
      ':method': exchange.head.method,
      ':path': exchange.head.path,
      ':authority': exchange.head.authority,
      ':scheme': 'http',
    }, { endStream: !exchange.hasBody, signal: exchange.signal })
    if (exchange.hasBody) exchange.body.pipe(stream)
    let trailers: IncomingHttpHeaders | undefined
    stream.once('trailers', (t: IncomingHttpHeaders) => { trailers = t })
    if (this.#timeouts.idleMs > 0) stream.setTimeout(this.#timeouts.idleMs, () => stream.close(http2.constants.NGHTTP2_CANCEL))
    const responseHeaders = await new Promise<IncomingHttpHeaders>((resolve, reject) => {
      stream.once('response', resolve)
      stream.once('error', (err) => reject(upstreamError(err, address)))
      stream.once('close', () => reject(new MeshError('E_UPSTREAM_RESET', `${address}: h2c stream closed before a response (code ${stream.rstCode ?? 0})`)))
    })
    const status = Number(responseHeaders[':status'] ?? 502)
    return { head: { status, headers: endToEndHeaders(responseHeaders) }, body: stream, trailers: () => forwardableTrailers(trailers) }
  }

  close (): void {
    for (const session of this.#sessions.values()) session.close()
    this.#sessions.clear()
  }
}
