/**
 * Outbound HTTP, the app's side: HTTP/1.1 requests through node:http, h2c streams through
 * node:http2's stream API. Each becomes one OutboundExchange (http-exchange.ts) that carries it to
 * a peer; the subclasses here read the request and write the answer.
 *
 * Why h2c uses the stream API, not the compatibility one: Http2ServerRequest/Response are two
 * more objects per request with their own listeners on the stream, for nothing the exchange needs.
 *
 * An h2c client's RST_STREAM is the client leaving, not a failure of ours: the exchange is
 * aborted, the reset counted (`meshgate_app_stream_resets_total`) and nothing logged for it (a
 * rapid-reset client would otherwise make one log line per stream; its session is closed by the
 * premature-reset rule, app-h2c-session.ts, which logs once).
 */
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { Http2Session, ServerHttp2Stream } from 'node:http2'
import type { Readable } from 'node:stream'
import { ERROR_HEADER, MeshError } from '../../core/errors.js'
import { headerValue } from '../http/headers.js'
import { errorBody, rescueResponse } from '../http/rescue.js'
import type { HeaderMap } from '../../transports/contract.js'
import type { OutboundContext } from './context.js'
import {
  kExchange, onAppAnswerClose, onAppAnswerError, OutboundExchange, type AppAnswer, type AppProtocol,
} from './http-exchange.js'
import { pluginLog } from './plugin-steps.js'
import { closedByRule } from './app-h2c-session.js'

/** node:http2's constants.HTTP2_HEADER_STATUS, not imported: this module loads without node:http2. */
const HTTP2_HEADER_STATUS = ':status'

/** Handles one HTTP/1.1 request of the outbound listener; never throws (errors become answers or resets). */
export function handleOutboundRequest (ctx: OutboundContext, req: IncomingMessage, res: ServerResponse): void {
  new Http1Exchange(ctx, req, res).start()
}

/** Handles one h2c stream of the outbound listener; never throws. */
export function handleOutboundStream (ctx: OutboundContext, stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
  new H2cExchange(ctx, stream, headers).start()
}

/** Starts the in-flight count and the listeners every app answer needs. */
function watch (ctx: OutboundContext, answer: AppAnswer & NodeJS.EventEmitter, exchange: OutboundExchange): void {
  ctx.inflight.enter()
  answer[kExchange] = exchange
  answer.once('close', onAppAnswerClose)
  answer.on('error', onAppAnswerError)
}

class Http1Exchange extends OutboundExchange {
  readonly protocol: AppProtocol = 'http1'
  readonly req: IncomingMessage
  readonly res: ServerResponse & AppAnswer

  constructor (ctx: OutboundContext, req: IncomingMessage, res: ServerResponse) {
    super(ctx, req.headers)
    this.req = req
    this.res = res
    watch(ctx, this.res, this)
  }

  get appHeaders (): IncomingHttpHeaders { return this.req.headers }
  get appBody (): Readable { return this.req }
  get answerStream (): AppAnswer { return this.res }
  appAuthority (): string | undefined { return headerValue(this.req.headers, 'host') }
  appMethod (): string { return this.req.method ?? 'GET' }
  appPath (): string { return this.req.url ?? '/' }
  appRemoteAddress (): string { return this.req.socket.remoteAddress ?? '' }

  appHasBody (): boolean {
    const { headers } = this.req
    const length = headerValue(headers, 'content-length')
    if (length !== undefined) return length !== '0'
    return headers['transfer-encoding'] !== undefined
  }

  answer (status: number, headers: HeaderMap): void {
    this.res.writeHead(status, headers)
  }

  writeChunk (chunk: Buffer): boolean {
    return this.res.write(chunk)
  }

  finish (trailers: HeaderMap | undefined): void {
    // HTTP/1.1 trailers follow a chunked body only (RFC 9112 §7.1.2); node drops them otherwise.
    if (trailers !== undefined) this.res.addTrailers(trailers as Record<string, string>)
    this.res.end()
  }

  destroyAnswer (err: Error): void {
    this.res.destroy(err)
  }

  answerError (err: MeshError): void {
    rescueResponse(this.res, err)
  }
}

type AnswerStream = ServerHttp2Stream & AppAnswer

class H2cExchange extends OutboundExchange {
  readonly protocol: AppProtocol = 'http2'
  readonly stream: AnswerStream
  readonly appHeaders: IncomingHttpHeaders
  /** Sent on 'wantTrailers' (RFC 9113 §8.1: a HEADERS frame with END_STREAM after the last DATA). */
  trailers: HeaderMap | undefined = undefined
  /** The client reset the stream before its response ended. */
  clientReset = false
  /** The app's h2c session (a destroyed stream forgets it). */
  readonly appSession: Http2Session | undefined

  constructor (ctx: OutboundContext, stream: ServerHttp2Stream, headers: IncomingHttpHeaders) {
    super(ctx, headers)
    this.stream = stream
    this.appHeaders = headers
    this.appSession = stream.session
    watch(ctx, this.stream, this)
    stream.once('aborted', onAppStreamAborted)
  }

  /**
   * A failure after the client reset the stream is only the reset, and one of a session the
   * premature-reset rule closed is only that (logged once): nothing to answer, nothing to log.
   */
  override rescue (err: unknown): void {
    if (!this.clientReset && !(err === this.clientGone && closedByRule(this.appSession))) {
      super.rescue(err)
      return
    }
    if (this.plugins !== undefined) pluginLog(this)
  }

  /** A response head that comes back after the client reset the stream: its body is dropped. */
  override streamResponse (status: number, headers: HeaderMap, peerBody: Readable): void {
    if (!this.stream.destroyed) {
      super.streamResponse(status, headers, peerBody)
      return
    }
    // done() destroys it with the reset: its 'error' has nowhere to go.
    peerBody.on('error', noop)
    this.body = peerBody
    this.done(this.clientGone ?? new MeshError('E_UPSTREAM_RESET', 'the client reset the stream'))
  }

  get appBody (): Readable { return this.stream }
  get answerStream (): AppAnswer { return this.stream }
  appAuthority (): string | undefined { return headerValue(this.appHeaders, ':authority') ?? headerValue(this.appHeaders, 'host') }
  appMethod (): string { return headerValue(this.appHeaders, ':method') ?? 'GET' }
  appPath (): string { return headerValue(this.appHeaders, ':path') ?? '/' }
  appRemoteAddress (): string { return this.stream.session?.socket?.remoteAddress ?? '' }

  appHasBody (): boolean {
    const length = headerValue(this.appHeaders, 'content-length')
    if (length !== undefined) return length !== '0'
    return !this.stream.endAfterHeaders
  }

  answer (status: number, headers: HeaderMap): void {
    const { stream } = this
    const out: OutgoingHttpHeaders = headers
    out[HTTP2_HEADER_STATUS] = status
    // Trailers are known only once the peer's body has ended: wait for them, as node's
    // compatibility API does (node ends HEAD and no-content answers with the head itself).
    stream.respond(out, { waitForTrailers: true })
    stream.once('wantTrailers', onWantTrailers)
  }

  writeChunk (chunk: Buffer): boolean {
    return this.stream.write(chunk)
  }

  finish (trailers: HeaderMap | undefined): void {
    this.trailers = trailers
    this.stream.end()
  }

  destroyAnswer (err: Error): void {
    this.stream.destroy(err)
  }

  answerError (err: MeshError): void {
    const { stream } = this
    if (stream.destroyed || stream.closed) return
    if (stream.headersSent) {
      // Too late for a status: reset (destroy sends RST_STREAM without END_STREAM first).
      stream.destroy(err)
      return
    }
    const body = errorBody(err)
    const headOnly = headerValue(this.appHeaders, ':method') === 'HEAD'
    stream.respond({
      [HTTP2_HEADER_STATUS]: err.status,
      [ERROR_HEADER]: err.code,
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    }, { endStream: headOnly })
    if (!headOnly) stream.end(body)
  }
}

/**
 * 'aborted' before node destroyed the stream itself: the client reset it (node marks a stream
 * destroyed before its own resets). node ends the writable side next, so the answer's 'close'
 * would look like a finished response: the exchange is told here that the client left.
 */
function onAppStreamAborted (this: AnswerStream): void {
  const exchange = this[kExchange] as H2cExchange | undefined
  if (exchange === undefined || this.destroyed) return
  exchange.clientReset = true
  exchange.ctx.appClients?.streamReset()
  exchange.clientGone ??= new MeshError('E_UPSTREAM_RESET', 'the client reset the stream')
  exchange.abortAll(exchange.clientGone)
  if (exchange.peerResponse !== undefined) exchange.done(exchange.clientGone)
}

function noop (): void {}

function onWantTrailers (this: AnswerStream): void {
  const exchange = this[kExchange] as H2cExchange | undefined
  this.sendTrailers(exchange?.trailers ?? {})
}
