/**
 * Delivery of HTTP requests to a local workload over h2c (HTTP/2 with prior knowledge), one
 * session per target address, reopened when it closes or receives GOAWAY.
 */
import http2 from 'node:http2'
import type { ClientHttp2Session, ClientHttp2Stream, IncomingHttpHeaders } from 'node:http2'
import type { Readable } from 'node:stream'
import type { Timeouts } from '../config/types.js'
import { MeshError } from '../errors.js'
import { endToEndHeaders, forwardableTrailers } from '../http/headers.js'
import type { HeaderMap, InboundExchange, PeerResponse, ResponseHead } from '../../transports/contract.js'
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

  /**
   * Sends the exchange to `address`; resolves with the workload's response head. Rejects with a
   * MeshError. `headers` becomes the request's (the pseudo-headers are set on it): the caller
   * made it for this.
   */
  deliver (exchange: InboundExchange, address: string, headers: HeaderMap): Promise<PeerResponse> {
    const existing = this.#sessions.get(address)
    // The session is usually open: no await (and no promise) for it then.
    if (existing !== undefined && !existing.closed && !existing.destroyed) return this.#send(existing, exchange, address, headers)
    return this.#session(address).then((session) => this.#send(session, exchange, address, headers))
  }

  #send (session: ClientHttp2Session, exchange: InboundExchange, address: string, headers: HeaderMap): Promise<PeerResponse> {
    headers[':method'] = exchange.head.method
    headers[':path'] = exchange.head.path
    headers[':authority'] = exchange.head.authority
    headers[':scheme'] = 'http'
    let stream: ClientHttp2Stream
    try {
      // A LightAbortSignal: node:http2 takes any object with `aborted` and addEventListener.
      stream = session.request(headers, { endStream: !exchange.hasBody, signal: exchange.signal as AbortSignal })
    } catch (err) {
      return Promise.reject(upstreamError(err, address))
    }
    if (exchange.hasBody) exchange.body.pipe(stream)
    if (this.#timeouts.idleMs > 0) stream.setTimeout(this.#timeouts.idleMs, onIdle)
    return new Promise<PeerResponse>((resolve, reject) => {
      const delivery = new H2cDelivery(stream, address, resolve, reject)
      delivery.start()
    })
  }

  close (): void {
    for (const session of this.#sessions.values()) session.close()
    this.#sessions.clear()
  }
}

const kDelivery = Symbol('meshgate.inbound.h2c')

type DeliveryStream = ClientHttp2Stream & { [kDelivery]?: H2cDelivery }

/**
 * One request to the workload, waiting for its response head. The stream's listeners are shared
 * functions that find it through a symbol: no closures per request.
 */
class H2cDelivery implements PeerResponse {
  readonly stream: DeliveryStream
  readonly address: string
  resolve: ((response: PeerResponse) => void) | undefined
  reject: ((err: Error) => void) | undefined
  head: ResponseHead = { status: 0, headers: {} }
  receivedTrailers: IncomingHttpHeaders | undefined = undefined

  constructor (stream: ClientHttp2Stream, address: string, resolve: (response: PeerResponse) => void, reject: (err: Error) => void) {
    this.stream = stream
    this.address = address
    this.resolve = resolve
    this.reject = reject
  }

  get body (): Readable {
    return this.stream
  }

  start (): void {
    const { stream } = this
    stream[kDelivery] = this
    stream.once('response', onResponse)
    stream.once('trailers', onTrailers)
    stream.once('error', onError)
    stream.once('close', onClose)
  }

  /** An arrow, not a method: respond() calls it on its own. */
  readonly trailers = (): HeaderMap | undefined => forwardableTrailers(this.receivedTrailers)

  fail (err: MeshError): void {
    const reject = this.reject
    if (reject === undefined) return
    this.resolve = undefined
    this.reject = undefined
    reject(err)
  }
}

function onResponse (this: DeliveryStream, headers: IncomingHttpHeaders): void {
  const delivery = this[kDelivery]
  const resolve = delivery?.resolve
  if (delivery === undefined || resolve === undefined) return
  delivery.resolve = undefined
  delivery.reject = undefined
  delivery.head = { status: Number(headers[':status'] ?? 502), headers: endToEndHeaders(headers) }
  resolve(delivery)
}

function onTrailers (this: DeliveryStream, trailers: IncomingHttpHeaders): void {
  const delivery = this[kDelivery]
  if (delivery !== undefined) delivery.receivedTrailers = trailers
}

function onError (this: DeliveryStream, err: Error): void {
  const delivery = this[kDelivery]
  delivery?.fail(upstreamError(err, delivery.address))
}

function onClose (this: DeliveryStream): void {
  const delivery = this[kDelivery]
  delivery?.fail(new MeshError('E_UPSTREAM_RESET', `${delivery.address}: h2c stream closed before a response (code ${this.rstCode ?? 0})`))
}

function onIdle (this: ClientHttp2Stream): void {
  this.close(http2.constants.NGHTTP2_CANCEL)
}
