/**
 * Outbound HTTP: one app request (HTTP/1.1 or h2c, through Node's compatibility API) becomes one
 * real request on a peer session. Steps: authority → service → endpoint → session → request,
 * then the response streams back with its trailers. Failures are answered by the rescue.
 *
 * Why one object per request and module-level listeners: this runs for every request, and the
 * closures, AbortController, finished() and pipe() it used to make cost as much CPU as node's own
 * HTTP work. The listeners are shared functions that find their exchange through a symbol.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2'
import type { Readable } from 'node:stream'
import { MeshError, toMeshError } from '../errors.js'
import { endToEndHeaders, forwardableTrailers, headerValue } from '../http/headers.js'
import { countBodyBytes, type ByteCount } from '../http/body-bytes.js'
import { rescueResponse } from '../http/rescue.js'
import type { Pick } from '../balance/types.js'
import { LightAbortSignal } from '../../transports/abort-signal.js'
import { WIRE_HEADERS, type PeerResponse, type PeerSession, type RequestHead } from '../../transports/contract.js'
import { newRequestId, readySessionFor, sessionFor, type OutboundContext } from './context.js'

const kExchange = Symbol('meshgate.outbound.exchange')

export type AppProtocol = 'http1' | 'http2'
type AppRequest = IncomingMessage | Http2ServerRequest
type AppResponse = (ServerResponse | Http2ServerResponse) & { [kExchange]?: OutboundExchange }
type PeerBody = Readable & { [kExchange]?: OutboundExchange }

/** Correlates the log lines of one request across both proxies and the app. */
export const REQUEST_ID_HEADER = 'x-request-id'

/** Headers an app may not set itself: the mesh sets them. */
const MESH_HEADERS: ReadonlySet<string> = new Set([WIRE_HEADERS.target, WIRE_HEADERS.origProto, WIRE_HEADERS.clientId])

const NO_BYTES: ByteCount = Object.freeze({ count: 0 })

/** True when the request carries a body: a length above zero, chunked framing, or an open h2 stream. */
export function requestHasBody (req: AppRequest, protocol: AppProtocol): boolean {
  const length = headerValue(req.headers, 'content-length')
  if (length !== undefined) return length !== '0'
  if (protocol === 'http1') return req.headers['transfer-encoding'] !== undefined
  return !(req as Http2ServerRequest).stream.endAfterHeaders
}

/** Handles one app request; never throws (errors become responses or resets). */
export function handleOutboundRequest (ctx: OutboundContext, protocol: AppProtocol, req: AppRequest, res: AppResponse): void {
  const exchange = new OutboundExchange(ctx, protocol, req, res)
  ctx.inflight.enter()
  res[kExchange] = exchange
  res.once('close', onAppResponseClose)
  exchange.forward().catch((err: unknown) => exchange.rescue(err))
}

/** The app's `x-request-id` when it sent a sane one, else a new one; it travels with the request. */
function requestIdOf (req: AppRequest): string {
  const given = req.headers[REQUEST_ID_HEADER]
  return typeof given === 'string' && given.length > 0 && given.length <= 128 ? given : newRequestId()
}

/** One app request from arrival to the end of its response body. */
class OutboundExchange {
  readonly ctx: OutboundContext
  readonly protocol: AppProtocol
  readonly req: AppRequest
  readonly res: AppResponse
  readonly requestId: string
  readonly started: number
  readonly abort = new LightAbortSignal()
  /** Built only when the client does leave: an Error captures a stack trace, too dear per request. */
  clientGone: MeshError | undefined = undefined
  left = false
  head: RequestHead | undefined = undefined
  requestBytes: ByteCount = NO_BYTES
  // Set once the response head is back:
  response: PeerResponse | undefined = undefined
  body: PeerBody | undefined = undefined
  status = 0
  errorCode: string | undefined = undefined
  peerIdentity = ''
  transport = ''
  responseBytes = 0
  /** The body is paused until the app's response drains. */
  waitingForDrain = false
  settled = false

  constructor (ctx: OutboundContext, protocol: AppProtocol, req: AppRequest, res: AppResponse) {
    this.ctx = ctx
    this.protocol = protocol
    this.req = req
    this.res = res
    this.requestId = requestIdOf(req)
    this.started = performance.now()
  }

  async forward (): Promise<void> {
    const { ctx, protocol, req, abort } = this
    const authority = protocol === 'http2'
      ? headerValue(req.headers, ':authority') ?? headerValue(req.headers, 'host')
      : headerValue(req.headers, 'host')
    if (authority === undefined || authority === '') throw new MeshError('E_BAD_REQUEST', 'the request names no authority (Host header)')
    const service = ctx.router.resolve(authority)
    if (service === undefined) throw new MeshError('E_NO_ROUTE', `no service for authority "${authority}"`)

    // The wait for an endpoint (bounded by balancing.queue.maxWaitMs) ends early if the client leaves.
    const pick = await ctx.picker.pick(service, 'request', abort)
    const endpoint = pick.endpoint
    const headers = endToEndHeaders(req.headers, MESH_HEADERS)
    headers[WIRE_HEADERS.target] = endpoint.target
    headers[REQUEST_ID_HEADER] = this.requestId
    if (protocol === 'http1') headers[WIRE_HEADERS.origProto] = 'HTTP/1.1'
    const head: RequestHead = { method: req.method ?? 'GET', authority, path: req.url ?? '/', scheme: 'http', headers }
    this.head = head

    const requestMs = ctx.timeouts.requestMs
    // setTimeout's extra argument instead of a closure per request.
    const timer = requestMs > 0 ? setTimeout(requestTimedOut, requestMs, this) : undefined
    const hasBody = requestHasBody(req, protocol)
    if (hasBody) this.requestBytes = countBodyBytes(req)
    let session: PeerSession | undefined
    let response
    try {
      // A session with room is usually pooled already: no await (and no promise) for it then.
      session = readySessionFor(ctx, endpoint) ?? await sessionFor(ctx, endpoint)
      if (abort.aborted) throw abort.reason
      response = await session.request(head, hasBody ? req as Readable : null, { signal: abort })
    } catch (err) {
      const meshErr = abort.aborted && abort.reason instanceof MeshError ? abort.reason : toMeshError(err, 'E_PEER_UNREACHABLE')
      // A client that left says nothing about the endpoint; anything else counts against it.
      pick.done({ ok: meshErr === this.clientGone, latencyMs: performance.now() - this.started })
      this.peerIdentity = session?.peerIdentity ?? endpoint.identity
      this.transport = session?.transport ?? endpoint.transport
      this.report(meshErr.status, meshErr.code)
      throw meshErr
    } finally {
      clearTimeout(timer)
    }
    this.respond(pick, session, response)
  }

  /** The response head is back: report it, answer the app and stream the body through. */
  respond (pick: Pick, session: PeerSession, response: PeerResponse): void {
    const { ctx, res } = this
    const status = response.head.status
    // Failure accrual counts 5xx the peer proxy generated (it names an error code), not the app's own.
    const errorCode = headerValue(response.head.headers, WIRE_HEADERS.error)
    pick.done({ ok: status < 500 || errorCode === undefined, latencyMs: performance.now() - this.started })
    this.response = response
    this.status = status
    this.errorCode = errorCode
    this.peerIdentity = session.peerIdentity
    this.transport = session.transport
    this.report(status, errorCode)

    const responseHeaders = endToEndHeaders(response.head.headers)
    if (ctx.timeouts.idleMs > 0) res.setTimeout(ctx.timeouts.idleMs, onAppResponseIdle)
    res.writeHead(status, responseHeaders)
    // pipe() by hand: one 'data' listener both counts and writes, and no pipe() bookkeeping.
    const body: PeerBody = response.body
    this.body = body
    body[kExchange] = this
    body.on('data', onPeerBodyData)
    body.once('end', onPeerBodyEnd)
    body.on('error', onPeerBodyError)
    body.once('close', onPeerBodyClose)
    res.on('error', onAppResponseError)
    if (this.left) {
      // The app's response closed while the head was on its way: nothing to stream to.
      this.done(this.clientGone ?? new MeshError('E_UPSTREAM_RESET', 'the client went away'))
    }
  }

  /** The response body is done, or failed on either side (then both sides are torn down). */
  done (err?: Error): void {
    if (this.settled) return
    this.settled = true
    const { ctx } = this
    let failure: MeshError | undefined
    if (err !== undefined) {
      this.body?.destroy(err)
      this.res.destroy(err)
      failure = toMeshError(err, 'E_PEER_RESET')
      ctx.logger.debug({ code: failure.code, err: failure.message, requestId: this.requestId }, 'response stream ended early')
    }
    ctx.telemetry.requestEnd({
      direction: 'outbound',
      authority: this.head?.authority ?? '',
      status: this.status,
      requestBytes: this.requestBytes.count,
      responseBytes: this.responseBytes,
      totalSeconds: (performance.now() - this.started) / 1000,
      identity: ctx.identity,
      peerIdentity: this.peerIdentity,
      transport: this.transport,
      errorCode: failure?.code ?? this.errorCode,
    })
  }

  /** forward() failed before a response head: answer with the error. */
  rescue (err: unknown): void {
    const meshErr = toMeshError(err)
    const { req } = this
    this.ctx.logger.warn({ code: meshErr.code, err: meshErr.message, requestId: this.requestId, authority: req.headers.host ?? req.headers[':authority'] }, 'outbound request failed')
    rescueResponse(this.res, meshErr)
  }

  report (status: number, errorCode: string | undefined): void {
    const head = this.head
    this.ctx.telemetry.request({
      direction: 'outbound',
      protocol: this.protocol,
      authority: head?.authority ?? '',
      method: head?.method ?? '',
      path: head?.path ?? '',
      identity: this.ctx.identity,
      peerIdentity: this.peerIdentity,
      transport: this.transport,
      status,
      errorCode,
      durationSeconds: (performance.now() - this.started) / 1000,
      requestId: this.requestId,
    })
  }
}

function requestTimedOut (exchange: OutboundExchange): void {
  exchange.abort.abort(new MeshError('E_REQUEST_TIMEOUT', `no response head within ${exchange.ctx.timeouts.requestMs} ms`))
}

/** The app's response closed: finished, or the client left early (then the peer stream is cancelled). */
function onAppResponseClose (this: AppResponse): void {
  const exchange = this[kExchange]
  if (exchange === undefined) return
  if (!exchange.left) {
    exchange.left = true
    exchange.ctx.inflight.leave()
  }
  if (this.writableFinished) {
    if (exchange.response !== undefined) exchange.done()
    return
  }
  exchange.clientGone ??= new MeshError('E_UPSTREAM_RESET', 'the client went away')
  exchange.abort.abort(exchange.clientGone)
  if (exchange.response !== undefined) exchange.done(exchange.clientGone)
}

function onAppResponseIdle (this: { destroy: (err: Error) => void }): void {
  this.destroy(new MeshError('E_IDLE_TIMEOUT', 'response body idle'))
}

function onAppResponseError (this: AppResponse, err: Error): void {
  this[kExchange]?.done(err)
}

function onAppResponseDrain (this: AppResponse): void {
  const exchange = this[kExchange]
  if (exchange === undefined) return
  exchange.waitingForDrain = false
  exchange.body?.resume()
}

function onPeerBodyData (this: PeerBody, chunk: Buffer): void {
  const exchange = this[kExchange]
  if (exchange === undefined) return
  exchange.responseBytes += chunk.length
  const res = exchange.res as ServerResponse
  // Backpressure as pipe() does it: pause the body until the app's response drains.
  if (!res.write(chunk) && !exchange.waitingForDrain) {
    exchange.waitingForDrain = true
    this.pause()
    res.once('drain', onAppResponseDrain)
  }
}

function onPeerBodyEnd (this: PeerBody): void {
  const exchange = this[kExchange]
  if (exchange?.response === undefined) return
  const trailers = forwardableTrailers(exchange.response.trailers())
  if (trailers !== undefined) exchange.res.addTrailers(trailers as Record<string, string>)
  exchange.res.end()
}

function onPeerBodyError (this: PeerBody, err: Error): void {
  this[kExchange]?.done(err)
}

function onPeerBodyClose (this: PeerBody): void {
  // Closed without its end and without an error: the peer stream went away under it.
  if (!this.readableEnded) this[kExchange]?.done(this.errored ?? new MeshError('E_PEER_RESET', 'the peer response ended early'))
}
