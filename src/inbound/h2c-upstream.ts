/**
 * Delivery of HTTP requests to a local workload over h2c (HTTP/2 with prior knowledge), one
 * session per target address, reopened when it closes or receives GOAWAY.
 */
import type * as Http2 from 'node:http2'
import type { ClientHttp2Session, ClientHttp2Stream, IncomingHttpHeaders } from 'node:http2'
import type { Readable } from 'node:stream'
import type { Timeouts } from '../config/types.js'
import { MeshError } from '../../core/errors.js'
import { endToEndHeaders, forwardableTrailers } from '../http/headers.js'
import type { HeaderMap, ResponseHead } from '../../transports/contract.js'
import type { Delivery, DeliveryTarget, UpstreamResponse } from './http1-upstream.js'
import { pipeRequestBody } from './request-body.js'
import { upstreamError } from './upstream-errors.js'

let http2Module: typeof Http2 | undefined
/**
 * node:http2 (and node:tls beneath it), loaded at the first h2c delivery: an inbound side whose
 * peer sessions run on the native engine has no other use for them, and they cost ~1.4 MB of
 * idle RSS (bench/: idle RSS per proxy).
 */
function http2 (): typeof Http2 {
  http2Module ??= process.getBuiltinModule('node:http2')
  return http2Module
}

export class H2cUpstream {
  readonly #sessions = new Map<string, ClientHttp2Session>()
  readonly #timeouts: Timeouts

  constructor (timeouts: Timeouts) {
    this.#timeouts = timeouts
  }

  /** The session to `address` if one is open (or still connecting: node queues its requests). */
  #openSession (address: string): ClientHttp2Session | undefined {
    const session = this.#sessions.get(address)
    return session !== undefined && !session.closed && !session.destroyed ? session : undefined
  }

  /** A new session to `address`, once connected. */
  async #connect (address: string): Promise<ClientHttp2Session> {
    const session = http2().connect(`http://${address}`, { settings: { initialWindowSize: 4 << 20 } })
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
   * Sends the exchange to `address`; `to` gets the workload's response head or a MeshError.
   * `headers` becomes the request's (the pseudo-headers are set on it): the caller made it for this.
   */
  deliver (exchange: Delivery, address: string, headers: HeaderMap, to: DeliveryTarget): void {
    // The session is usually open: no promise for it then.
    const open = this.#openSession(address)
    if (open !== undefined) {
      this.#send(open, exchange, address, headers, to)
      return
    }
    this.#connect(address).then((session) => this.#send(session, exchange, address, headers, to), (err: unknown) => to.failed(upstreamError(err, address)))
  }

  #send (session: ClientHttp2Session, exchange: Delivery, address: string, headers: HeaderMap, to: DeliveryTarget): void {
    headers[':method'] = exchange.head.method
    headers[':path'] = exchange.head.path
    headers[':authority'] = exchange.head.authority
    headers[':scheme'] = 'http'
    let stream: ClientHttp2Stream
    try {
      stream = session.request(headers, { endStream: !exchange.hasBody })
    } catch (err) {
      to.failed(upstreamError(err, address))
      return
    }
    if (exchange.hasBody) pipeRequestBody(exchange.body, stream)
    if (this.#timeouts.idleMs > 0) stream.setTimeout(this.#timeouts.idleMs, onIdle)
    const delivery = new H2cDelivery(stream, address, to)
    delivery.start()
    // The delivery listens itself (handleEvent): node's own `signal` option costs a disposable,
    // a closure and a 'close' listener per stream.
    exchange.signal.addEventListener('abort', delivery, { once: true })
  }

  close (): void {
    for (const session of this.#sessions.values()) session.close()
    this.#sessions.clear()
  }
}

const kDelivery = Symbol('meshgate.inbound.h2c')
type DeliveryStream = ClientHttp2Stream & { [kDelivery]?: H2cDelivery }

/**
 * One request to the workload, waiting for its response head, then the response itself. The
 * stream's listeners are shared functions that find it through a symbol: no closures per request.
 */
class H2cDelivery implements UpstreamResponse {
  readonly stream: DeliveryStream
  readonly address: string
  /** Until the response head came (or the stream failed before it). */
  to: DeliveryTarget | undefined
  head: ResponseHead = { status: 0, headers: {} }
  receivedTrailers: IncomingHttpHeaders | undefined = undefined

  constructor (stream: ClientHttp2Stream, address: string, to: DeliveryTarget) {
    this.stream = stream
    this.address = address
    this.to = to
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

  /** The exchange aborted (its caller reset it): reset the workload's stream, as node does for a `signal`. */
  handleEvent (): void {
    const { stream } = this
    if (stream.destroyed) return
    const err = new Error('The operation was aborted')
    err.name = 'AbortError'
    stream.destroy(err)
  }

  fail (err: MeshError): void {
    const to = this.to
    if (to === undefined) return
    this.to = undefined
    to.failed(err)
  }
}

function onResponse (this: DeliveryStream, headers: IncomingHttpHeaders): void {
  const delivery = this[kDelivery]
  const to = delivery?.to
  if (delivery === undefined || to === undefined) return
  delivery.to = undefined
  delivery.head = { status: Number(headers[':status'] ?? 502), headers: endToEndHeaders(headers) }
  to.delivered(delivery)
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
  // The error only when someone still waits for a head: an Error (with its stack) per stream was
  // the single dearest thing on this path.
  if (delivery?.to === undefined) return
  delivery.fail(new MeshError('E_UPSTREAM_RESET', `${delivery.address}: h2c stream closed before a response (code ${this.rstCode ?? 0})`))
}

function onIdle (this: ClientHttp2Stream): void {
  this.close(http2().constants.NGHTTP2_CANCEL)
}
