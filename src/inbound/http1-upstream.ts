/**
 * Delivery of HTTP requests to a local workload over HTTP/1.1 with node:http's client, one
 * keep-alive agent per target address.
 *
 * Why node:http and not undici: when a response body pushes back (its peer stream is slower than
 * the workload), undici 7's HTTP/1 client pauses its parser, puts the unparsed rest back on the
 * socket, and on resume reads the whole socket buffer again while asking the kernel for more. A
 * large response relayed to a slower peer then grows that buffer without bound at quadratic cost:
 * a 100 MB echo took 170 s and 280 MB of RSS in the inbound (test/multicluster/traffic.test.ts),
 * 3.4 s with node:http, whose parser pauses the socket instead.
 */
import http, { type ClientRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http'
import net, { type Socket } from 'node:net'
import type { Duplex, Readable } from 'node:stream'
import type { Timeouts } from '../config/types.js'
import { MeshError } from '../../core/errors.js'
import { endToEndHeaders, forwardableTrailers, splitHostPort } from '../http/headers.js'
import { timeoutList, type TimeoutList, type Timed } from '../http/timeout-list.js'
import type { HeaderMap, InboundExchange, PeerResponse, ResponseHead } from '../../transports/contract.js'
import { pipeRequestBody } from './request-body.js'
import { upstreamError } from './upstream-errors.js'

/** A workload's response; `trailers` is undefined when the framing rules trailers out. */
export interface UpstreamResponse extends Omit<PeerResponse, 'trailers'> {
  trailers: PeerResponse['trailers'] | undefined
}

/**
 * The request an upstream delivers: the peer's exchange itself, or (plugins) its head with the
 * request line the plugins left and its body as they pass it on.
 */
export type Delivery = Pick<InboundExchange, 'head' | 'body' | 'hasBody' | 'signal'>

/**
 * Where an upstream hands its outcome: callbacks rather than a promise, since one delivery per
 * request is the hot path.
 */
export interface DeliveryTarget {
  delivered: (response: UpstreamResponse) => void
  /** Called with a MeshError. */
  failed: (err: MeshError) => void
}

/** An idle keep-alive connection to a workload closes after this (or the workload's own hint, if shorter). */
const KEEP_ALIVE_MS = 4_000
/** Connections per target at once; more requests wait for one. */
const MAX_CONNECTIONS = 256

const kIdleMs = Symbol('meshgate.inbound.http1.idleMs')
const kConnectMs = Symbol('meshgate.inbound.http1.connectMs')
const kAddress = Symbol('meshgate.inbound.http1.address')
const kFree = Symbol('meshgate.inbound.http1.free')

type WorkloadSocket = Socket & { [kIdleMs]?: number, [kAddress]?: string, [kFree]?: boolean }

/**
 * node's keep-alive agent, with the two timeouts a pool to a workload needs on its connections:
 * connect (`connectMs`) and idle (`idleMs` while a request uses it, KEEP_ALIVE_MS while free).
 * One 'timeout' listener per connection, none per request.
 */
class WorkloadAgent extends http.Agent {
  readonly [kIdleMs]: number
  readonly [kConnectMs]: number
  readonly [kAddress]: string

  constructor (address: string, timeouts: Timeouts) {
    super({ keepAlive: true, maxSockets: MAX_CONNECTIONS, maxFreeSockets: MAX_CONNECTIONS, scheduling: 'lifo' })
    this[kIdleMs] = timeouts.idleMs
    this[kConnectMs] = timeouts.connectMs
    this[kAddress] = address
  }

  override createConnection (options: http.ClientRequestArgs): Duplex {
    const socket: WorkloadSocket = net.connect(options as net.NetConnectOpts)
    socket[kIdleMs] = this[kIdleMs]
    socket[kAddress] = this[kAddress]
    socket.setTimeout(this[kConnectMs])
    socket.on('timeout', onSocketTimeout)
    socket.once('connect', onSocketConnect)
    return socket
  }

  /** node's declaration says void; the method returns whether the socket is kept. */
  override keepSocketAlive (socket: Duplex): boolean {
    const kept = super.keepSocketAlive(socket) as unknown as boolean
    const s = socket as WorkloadSocket
    s[kFree] = true
    // The workload's Keep-Alive hint, if any, set a shorter timeout already (node leaves 1 s of margin).
    if (kept && (s.timeout === undefined || s.timeout === 0 || s.timeout > KEEP_ALIVE_MS)) s.setTimeout(KEEP_ALIVE_MS)
    return kept
  }

  override reuseSocket (socket: Duplex, request: ClientRequest): void {
    super.reuseSocket(socket, request)
    const s = socket as WorkloadSocket
    s[kFree] = false
    s.setTimeout(s[kIdleMs] ?? 0)
  }
}

function onSocketConnect (this: WorkloadSocket): void {
  this.setTimeout(this[kIdleMs] ?? 0)
}

function onSocketTimeout (this: WorkloadSocket): void {
  const address = this[kAddress] ?? ''
  if (this.connecting) {
    this.destroy(new MeshError('E_CONNECT_TIMEOUT', `${address}: connect timed out`))
  } else if (this[kFree] !== true) {
    this.destroy(new MeshError('E_IDLE_TIMEOUT', `${address}: no bytes either way for ${this.timeout ?? 0} ms`))
  } else {
    // A free connection past its keep-alive time: closed before the workload closes it under a request.
    this.destroy()
  }
}

interface Pool {
  agent: WorkloadAgent
  host: string
  port: number
}

export class Http1Upstream {
  readonly #pools = new Map<string, Pool>()
  readonly #timeouts: Timeouts
  /** Until the response head, once the request is sent (absent: no limit). */
  readonly #headTimeouts: TimeoutList | undefined

  constructor (timeouts: Timeouts) {
    this.#timeouts = timeouts
    this.#headTimeouts = timeouts.requestMs > 0 ? timeoutList(timeouts.requestMs) : undefined
  }

  #pool (address: string): Pool {
    let pool = this.#pools.get(address)
    if (pool === undefined) {
      // Target addresses are `host:port` (checked when the config loads), as for TCP targets.
      const { host, port } = splitHostPort(address)
      pool = { agent: new WorkloadAgent(address, this.#timeouts), host, port: port ?? 80 }
      this.#pools.set(address, pool)
    }
    return pool
  }

  /**
   * Sends the exchange to `address`; `to` gets the workload's response head or a MeshError.
   * `headers` becomes the request's (`host` is set on it): the caller made it for this.
   */
  deliver (exchange: Delivery, address: string, headers: HeaderMap, to: DeliveryTarget): void {
    const pool = this.#pool(address)
    headers.host = exchange.head.authority
    let request: ClientRequest
    try {
      request = http.request({ agent: pool.agent, host: pool.host, port: pool.port, method: exchange.head.method, path: exchange.head.path, headers, setHost: false })
    } catch (err) {
      // node refuses a header value or path it cannot write (the peer's HTTP/2 allowed it).
      to.failed(new MeshError('E_BAD_REQUEST', `${address}: ${(err as Error).message}`, { cause: err }))
      return
    }
    const delivery = new Http1Delivery(request, address, to, this.#headTimeouts)
    delivery.start()
    if (exchange.hasBody) pipeRequestBody(exchange.body, request)
    else request.end()
    // The delivery listens itself (handleEvent): no closure per request.
    exchange.signal.addEventListener('abort', delivery, { once: true })
  }

  async close (): Promise<void> {
    for (const pool of this.#pools.values()) pool.agent.destroy()
    this.#pools.clear()
  }
}

const kDelivery = Symbol('meshgate.inbound.http1')
type DeliveryRequest = ClientRequest & { [kDelivery]?: Http1Delivery }

/**
 * One request to the workload, waiting for its response head, then the response itself. The
 * request's listeners are shared functions that find it through a symbol: no closures per request.
 */
class Http1Delivery implements UpstreamResponse, Timed {
  readonly request: DeliveryRequest
  readonly address: string
  readonly headTimeouts: TimeoutList | undefined
  /** Until the response head came (or the request failed before it). */
  to: DeliveryTarget | undefined
  head: ResponseHead = { status: 0, headers: {} }
  response: IncomingMessage | undefined = undefined
  trailers: (() => HeaderMap | undefined) | undefined = undefined
  timedPrev: Timed | undefined = undefined
  timedNext: Timed | undefined = undefined
  timedList: TimeoutList | undefined = undefined
  deadline = 0
  activeAt = 0

  constructor (request: ClientRequest, address: string, to: DeliveryTarget, headTimeouts: TimeoutList | undefined) {
    this.request = request
    this.address = address
    this.to = to
    this.headTimeouts = headTimeouts
  }

  get body (): Readable {
    return this.response as IncomingMessage
  }

  start (): void {
    const { request } = this
    request[kDelivery] = this
    request.once('response', onResponse)
    request.once('error', onRequestError)
    request.once('close', onRequestClose)
    if (this.headTimeouts !== undefined) request.once('finish', onRequestSent)
  }

  /** The request's response timeout (`timeouts.requestMs`) passed without a head. */
  timedOut (): void {
    if (this.to === undefined) return
    this.request.destroy(new MeshError('E_REQUEST_TIMEOUT', `${this.address}: no response head within ${this.headTimeouts?.durationMs ?? 0} ms`))
  }

  /** The exchange aborted (its caller reset it): abort the workload's request. */
  handleEvent (): void {
    const { request } = this
    this.headTimeouts?.remove(this)
    if (request.destroyed) return
    const err = new Error('The operation was aborted')
    err.name = 'AbortError'
    request.destroy(err)
  }

  fail (err: MeshError): void {
    this.headTimeouts?.remove(this)
    const to = this.to
    if (to === undefined) return
    this.to = undefined
    to.failed(err)
  }
}

function onRequestSent (this: DeliveryRequest): void {
  const delivery = this[kDelivery]
  if (delivery?.to !== undefined) delivery.headTimeouts?.add(delivery)
}

function onResponse (this: DeliveryRequest, response: IncomingMessage): void {
  const delivery = this[kDelivery]
  const to = delivery?.to
  if (delivery === undefined || to === undefined) {
    response.resume()
    return
  }
  delivery.to = undefined
  delivery.headTimeouts?.remove(delivery)
  delivery.response = response
  delivery.head = { status: response.statusCode ?? 502, headers: endToEndHeaders(response.headers as HeaderMap) }
  // HTTP/1.1 trailers come only after a chunked body (RFC 9112 §7.1.2). Without one, no
  // trailers callback: the peer stream then ends with its last DATA frame instead of waiting
  // for 'wantTrailers' and sending an empty one (one JS round trip per response saved).
  if (isChunked(response.headers)) delivery.trailers = () => forwardableTrailers(response.trailers as HeaderMap)
  to.delivered(delivery)
}

function onRequestError (this: DeliveryRequest, err: Error): void {
  const delivery = this[kDelivery]
  delivery?.fail(upstreamError(err, delivery.address))
}

function onRequestClose (this: DeliveryRequest): void {
  const delivery = this[kDelivery]
  if (delivery?.to === undefined) return
  delivery.fail(new MeshError('E_UPSTREAM_RESET', `${delivery.address}: connection closed before a response`))
}

function isChunked (headers: IncomingHttpHeaders): boolean {
  const te = headers['transfer-encoding']
  return te !== undefined && te.toLowerCase().includes('chunked')
}
