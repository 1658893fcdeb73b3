/**
 * Delivery of HTTP requests to a local workload over HTTP/1.1 with undici, one keep-alive pool
 * per target address.
 */
import type { Dispatcher, Pool } from 'undici'
import { PassThrough, type Readable } from 'node:stream'
import type { Timeouts } from '../config/types.js'
import { endToEndHeaders, forwardableTrailers } from '../http/headers.js'
import type { HeaderMap, InboundExchange, PeerResponse } from '../../transports/contract.js'

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
 * request is the hot path (undici's callback API then makes no promise either).
 */
export interface DeliveryTarget {
  delivered: (response: UpstreamResponse) => void
  /** Called with a MeshError. */
  failed: (err: MeshError) => void
}
import type { MeshError } from '../../core/errors.js'
import { upstreamError } from './upstream-errors.js'

export class Http1Upstream {
  readonly #pools = new Map<string, Pool>()
  readonly #timeouts: Timeouts

  constructor (timeouts: Timeouts) {
    this.#timeouts = timeouts
  }

  async #newPool (address: string): Promise<Pool> {
    // undici is loaded on first use: it adds ~20 MB of RSS that a proxy without HTTP/1 targets never needs.
    const { Pool } = await import('undici')
    let pool = this.#pools.get(address)
    if (pool !== undefined) return pool
    pool = new Pool(`http://${address}`, {
      connections: 256,
      connectTimeout: this.#timeouts.connectMs,
      headersTimeout: this.#timeouts.requestMs,
      bodyTimeout: this.#timeouts.idleMs,
      keepAliveTimeout: 4_000,
    })
    this.#pools.set(address, pool)
    return pool
  }

  /**
   * Sends the exchange to `address`; `to` gets the workload's response head or a MeshError.
   * `headers` becomes the request's (`host` is set on it): the caller made it for this.
   */
  deliver (exchange: Delivery, address: string, headers: HeaderMap, to: DeliveryTarget): void {
    const pool = this.#pools.get(address)
    if (pool !== undefined) {
      this.#request(pool, exchange, address, headers, to)
      return
    }
    this.#newPool(address).then((p) => this.#request(p, exchange, address, headers, to), (err: unknown) => to.failed(upstreamError(err, address)))
  }

  #request (pool: Pool, exchange: Delivery, address: string, headers: HeaderMap, to: DeliveryTarget): void {
    headers.host = exchange.head.authority
    pool.request({
      method: exchange.head.method as 'GET',
      path: exchange.head.path,
      headers,
      body: exchange.hasBody ? detachedBody(exchange.body) : null,
      // A LightAbortSignal: undici takes any object with addEventListener.
      signal: exchange.signal as AbortSignal,
    }, (err, response) => {
      if (err !== null && err !== undefined) to.failed(upstreamError(err, address))
      else to.delivered(upstreamResponse(response))
    })
  }

  async close (): Promise<void> {
    await Promise.allSettled([...this.#pools.values()].map(async (p) => await p.close()))
  }
}

function upstreamResponse (response: Dispatcher.ResponseData): UpstreamResponse {
  const { trailers } = response
  return {
    head: { status: response.statusCode, headers: endToEndHeaders(response.headers as HeaderMap) },
    body: response.body as unknown as Readable,
    // HTTP/1.1 trailers come only after a chunked body (RFC 9112 §7.1.2). Without one, no
    // trailers callback: the peer stream then ends with its last DATA frame instead of waiting
    // for 'wantTrailers' and sending an empty one (one JS round trip per response saved).
    trailers: isChunked(response.headers['transfer-encoding']) ? () => forwardableTrailers(trailers as HeaderMap) : undefined,
  }
}

function isChunked (transferEncoding: string | string[] | undefined): boolean {
  if (transferEncoding === undefined) return false
  return (Array.isArray(transferEncoding) ? transferEncoding.join(',') : transferEncoding).toLowerCase().includes('chunked')
}

/**
 * The request body behind a PassThrough: undici destroys a body stream once it has sent it, and
 * destroying the transport's stream itself would reset the exchange before the response is back.
 */
function detachedBody (body: Readable): Readable {
  const detached = new PassThrough({ highWaterMark: 64 * 1024 })
  body.once('error', (err) => detached.destroy(err))
  return body.pipe(detached)
}
