/**
 * Outbound HTTP: one app request (HTTP/1.1 or h2c, through Node's compatibility API) becomes one
 * real request on a peer session. Steps: authority → service → endpoint → session → request,
 * then the response streams back with its trailers. Failures are answered by the rescue.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2'
import { finished, type Readable } from 'node:stream'
import { MeshError, toMeshError } from '../errors.js'
import { endToEndHeaders, forwardableTrailers, headerValue } from '../http/headers.js'
import { countBodyBytes } from '../http/body-bytes.js'
import { rescueResponse } from '../http/rescue.js'
import { WIRE_HEADERS, type RequestHead } from '../../transports/contract.js'
import { newRequestId, sessionFor, type OutboundContext } from './context.js'

export type AppProtocol = 'http1' | 'http2'
type AppRequest = IncomingMessage | Http2ServerRequest
type AppResponse = ServerResponse | Http2ServerResponse

/** Correlates the log lines of one request across both proxies and the app. */
export const REQUEST_ID_HEADER = 'x-request-id'

/** Headers an app may not set itself: the mesh sets them. */
const MESH_HEADERS: ReadonlySet<string> = new Set([WIRE_HEADERS.target, WIRE_HEADERS.origProto, WIRE_HEADERS.clientId])

/** True when the request carries a body: a length above zero, chunked framing, or an open h2 stream. */
export function requestHasBody (req: AppRequest, protocol: AppProtocol): boolean {
  const length = headerValue(req.headers, 'content-length')
  if (length !== undefined) return length !== '0'
  if (protocol === 'http1') return req.headers['transfer-encoding'] !== undefined
  return !(req as Http2ServerRequest).stream.endAfterHeaders
}

/** Handles one app request; never throws (errors become responses or resets). */
export function handleOutboundRequest (ctx: OutboundContext, protocol: AppProtocol, req: AppRequest, res: AppResponse): void {
  ctx.inflight.enter()
  let left = false
  const leave = (): void => { if (!left) { left = true; ctx.inflight.leave() } }
  res.once('close', leave)
  const requestId = requestIdOf(req)
  forward(ctx, protocol, req, res, requestId).catch((err: unknown) => {
    const meshErr = toMeshError(err)
    ctx.logger.warn({ code: meshErr.code, err: meshErr.message, requestId, authority: req.headers.host ?? req.headers[':authority'] }, 'outbound request failed')
    rescueResponse(res, meshErr)
  })
}

/** The app's `x-request-id` when it sent a sane one, else a new one; it travels with the request. */
function requestIdOf (req: AppRequest): string {
  const given = req.headers[REQUEST_ID_HEADER]
  return typeof given === 'string' && given.length > 0 && given.length <= 128 ? given : newRequestId()
}

async function forward (ctx: OutboundContext, protocol: AppProtocol, req: AppRequest, res: AppResponse, requestId: string): Promise<void> {
  const started = performance.now()
  const authority = protocol === 'http2'
    ? headerValue(req.headers, ':authority') ?? headerValue(req.headers, 'host')
    : headerValue(req.headers, 'host')
  if (authority === undefined || authority === '') throw new MeshError('E_BAD_REQUEST', 'the request names no authority (Host header)')
  const service = ctx.router.resolve(authority)
  if (service === undefined) throw new MeshError('E_NO_ROUTE', `no service for authority "${authority}"`)

  const abort = new AbortController()
  // Built only when the client does leave: an Error captures a stack trace, too dear per request.
  let clientGone: MeshError | undefined
  const onClientGone = (): void => {
    if (res.writableFinished) return
    clientGone ??= new MeshError('E_UPSTREAM_RESET', 'the client went away')
    abort.abort(clientGone)
  }
  res.once('close', onClientGone)
  // The wait for an endpoint (bounded by balancing.queue.maxWaitMs) ends early if the client leaves.
  const pick = await ctx.picker.pick(service, 'request', abort.signal)
  const endpoint = pick.endpoint
  const headers = endToEndHeaders(req.headers, MESH_HEADERS)
  headers[WIRE_HEADERS.target] = endpoint.target
  headers[REQUEST_ID_HEADER] = requestId
  if (protocol === 'http1') headers[WIRE_HEADERS.origProto] = 'HTTP/1.1'
  const head: RequestHead = { method: req.method ?? 'GET', authority, path: req.url ?? '/', scheme: 'http', headers }

  const timer = ctx.timeouts.requestMs > 0
    ? setTimeout(() => abort.abort(new MeshError('E_REQUEST_TIMEOUT', `no response head within ${ctx.timeouts.requestMs} ms`)), ctx.timeouts.requestMs)
    : undefined
  const hasBody = requestHasBody(req, protocol)
  const requestBytes = hasBody ? countBodyBytes(req) : { count: 0 }
  let session
  let response
  try {
    session = await sessionFor(ctx, endpoint)
    if (abort.signal.aborted) throw abort.signal.reason
    response = await session.request(head, hasBody ? req as Readable : null, { signal: abort.signal })
  } catch (err) {
    const meshErr = abort.signal.aborted && abort.signal.reason instanceof MeshError ? abort.signal.reason : toMeshError(err, 'E_PEER_UNREACHABLE')
    // A client that left says nothing about the endpoint; anything else counts against it.
    pick.done({ ok: meshErr === clientGone, latencyMs: performance.now() - started })
    report(ctx, protocol, head, requestId, session?.peerIdentity ?? endpoint.identity, session?.transport ?? endpoint.transport, meshErr.status, started, meshErr.code)
    throw meshErr
  } finally {
    clearTimeout(timer)
  }
  const latencyMs = performance.now() - started
  const status = response.head.status
  // Failure accrual counts 5xx the peer proxy generated (it names an error code), not the app's own.
  const errorCode = headerValue(response.head.headers, WIRE_HEADERS.error)
  pick.done({ ok: status < 500 || errorCode === undefined, latencyMs })
  const { peerIdentity, transport } = session
  report(ctx, protocol, head, requestId, peerIdentity, transport, status, started, errorCode)

  const responseHeaders = endToEndHeaders(response.head.headers)
  if (ctx.timeouts.idleMs > 0) res.setTimeout(ctx.timeouts.idleMs, () => res.destroy(new MeshError('E_IDLE_TIMEOUT', 'response body idle')))
  res.writeHead(status, responseHeaders)
  const upstream = response.body
  let responseBytes = 0
  upstream.on('data', (chunk: Buffer) => { responseBytes += chunk.length })
  upstream.once('end', () => {
    const trailers = forwardableTrailers(response.trailers())
    if (trailers !== undefined) res.addTrailers(trailers as Record<string, string>)
  })
  // pipe() and finished() as pipeline() would do, without its per-call AbortController: pipeline()
  // aborts that controller when done, which builds a DOMException with a stack trace every request.
  let settled = false
  const done = (err?: Error | null): void => {
    if (settled) return
    settled = true
    if (err !== undefined && err !== null) {
      // A failure on either side tears down both, as pipeline() does.
      upstream.destroy(err)
      res.destroy(err)
    }
    const failure = err === undefined || err === null ? undefined : toMeshError(err, 'E_PEER_RESET')
    if (failure !== undefined) ctx.logger.debug({ code: failure.code, err: failure.message, requestId }, 'response stream ended early')
    ctx.telemetry.requestEnd({
      direction: 'outbound',
      authority: head.authority,
      status,
      requestBytes: requestBytes.count,
      responseBytes,
      totalSeconds: (performance.now() - started) / 1000,
      identity: ctx.identity,
      peerIdentity,
      transport,
      errorCode: failure?.code ?? errorCode,
    })
  }
  finished(upstream, (err) => { if (err !== undefined && err !== null) done(err) })
  finished(res, done)
  upstream.pipe(res)
}

function report (ctx: OutboundContext, protocol: AppProtocol, head: RequestHead, requestId: string, peerIdentity: string,
  transport: string, status: number, started: number, errorCode: string | undefined): void {
  ctx.telemetry.request({
    direction: 'outbound',
    protocol,
    authority: head.authority,
    method: head.method,
    path: head.path,
    identity: ctx.identity,
    peerIdentity,
    transport,
    status,
    errorCode,
    durationSeconds: (performance.now() - started) / 1000,
    requestId,
  })
}
