/**
 * One outbound HTTP exchange, whatever the app spoke: an app request becomes one real request on a
 * peer session. Steps: authority → service → endpoint → session → request, then the response
 * streams back with its trailers. Failures are answered by the rescue. The app's side (HTTP/1
 * through node:http, h2c through node:http2's stream API) is a subclass: http-proxy.ts.
 *
 * Why one object per request and module-level listeners: this runs for every request, and the
 * closures, AbortController, finished() and pipe() it used to make cost as much CPU as node's own
 * HTTP work. The listeners are shared functions that find their exchange through a symbol.
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { Readable } from 'node:stream'
import { MeshError, toMeshError } from '../../core/errors.js'
import { endToEndHeaders, forwardableTrailers, headerValue, REQUEST_ID_HEADER } from '../http/headers.js'
import { timeoutList, TimeoutList, type Timed } from '../http/timeout-list.js'
import type { Pick } from '../balance/types.js'
import { LightAbortSignal } from '../../transports/abort-signal.js'
import { WIRE_HEADERS, type HeaderMap, type PeerResponse, type PeerSession, type RequestHead } from '../../transports/contract.js'
import { newRequestId, readySessionFor, sessionFor, unwrappedSessionFor, type OutboundContext } from './context.js'
import { mayResend } from './transport-selector.js'
import type { PluginPass } from '../plugins/plugin-pass.js'
import { routeProperties } from '../plugins/properties.js'
import { pluginLog, pluginRequestBody, pluginRequestHead, pluginResponseHead, routePluginHead, type PluginHead } from './plugin-steps.js'
import { parseGrpcTimeout } from '../route/grpc-timeout.js'
import type { RoutePlan } from '../route/policy.js'
import { HeldResponse, type HoldOutcome } from '../route/held-response.js'
import { ReplayBody } from '../route/replay-body.js'
import { failureCondition, mayRetryFailure, responseRetryReason } from '../route/retry-rules.js'

export const kExchange = Symbol('meshgate.outbound.exchange')

export type AppProtocol = 'http1' | 'http2'

/** What carries the app's answer (a ServerResponse, an h2 stream), tagged with its exchange. */
export interface AppAnswer {
  [kExchange]?: OutboundExchange
  readonly writableFinished: boolean
  once: (event: 'drain', listener: (this: AppAnswer) => void) => unknown
}
type PeerBody = Readable & { [kExchange]?: OutboundExchange }
type AppBody = Readable & { [kExchange]?: OutboundExchange }

/** Headers an app may not set itself: the mesh sets them. */
// `expect` too: the app's 100-continue is answered on this hop (node:http sends the 100), so the
// peer and the workload get the body without being asked (undici refuses the header outright).
export const MESH_HEADERS: ReadonlySet<string> = new Set([WIRE_HEADERS.target, WIRE_HEADERS.origProto, WIRE_HEADERS.clientId, 'expect'])

/** The app's `x-request-id` when it sent a sane one, else a new one; it travels with the request. */
export function requestIdOf (headers: IncomingHttpHeaders): string {
  const given = headers[REQUEST_ID_HEADER]
  return typeof given === 'string' && given.length > 0 && given.length <= 128 ? given : newRequestId()
}

/** One app request from arrival to the end of its response body; the app's side is the subclass's. */
export abstract class OutboundExchange implements Timed {
  readonly ctx: OutboundContext
  readonly requestId: string
  readonly started: number
  readonly abort = new LightAbortSignal()
  /** Built only when the client does leave: an Error captures a stack trace, too dear per request. */
  clientGone: MeshError | undefined = undefined
  left = false
  authority = ''
  pick: Pick | undefined = undefined
  head: RequestHead | undefined = undefined
  // The request timeout until the response head, then the idle timeout (Timed, see timeout-list.ts).
  timedPrev: Timed | undefined = undefined
  timedNext: Timed | undefined = undefined
  timedList: TimeoutList | undefined = undefined
  deadline = 0
  activeAt = 0
  hasBody = false
  /** A refused stream was sent once more (see failed()). */
  rerouted = false
  /** The session the request went to. */
  session: PeerSession | undefined = undefined
  requestBytes = 0
  // Set once the response head is back:
  peerResponse: PeerResponse | undefined = undefined
  body: PeerBody | undefined = undefined
  status = 0
  errorCode: string | undefined = undefined
  peerIdentity = ''
  transport = ''
  responseBytes = 0
  /** The body is paused until the app's response drains. */
  waitingForDrain = false
  settled = false
  /** The exchange's RequestEvent went out (report() runs once, whichever step answered). */
  reported = false
  // Only on a listener with plugins or a route with plugins (plugin-steps.ts):
  /** The listener's plugins, the route's, or both joined (request body, response, log). */
  plugins: PluginPass | undefined = undefined
  pluginHead: PluginHead | undefined = undefined
  pluginBody: Readable | undefined = undefined
  // Traffic policy (src/route), set only when the service has a route that matched:
  /** The route this request took (kept for its whole life, whatever a reload does). */
  route: RoutePlan | undefined = undefined
  /** The directory name (service or subset) the request is balanced over. */
  target = ''
  /** Tries sent after the first. */
  tries = 0
  /** The body kept for replay (routes with retries only). */
  replay: ReplayBody | undefined = undefined
  /** The current try's signal (routes with retries or a per-try timeout); `abort` aborts it too. */
  tryAbort: LightAbortSignal | undefined = undefined
  tryTimer: NodeJS.Timeout | undefined = undefined
  tryTimedOut = false

  constructor (ctx: OutboundContext, headers: IncomingHttpHeaders) {
    this.ctx = ctx
    this.requestId = requestIdOf(headers)
    this.started = performance.now()
  }

  // The app's side.
  abstract readonly protocol: AppProtocol
  /** The request's headers as node parsed them. */
  abstract readonly appHeaders: IncomingHttpHeaders
  /** The request body as a Readable (read only when appHasBody()). */
  abstract readonly appBody: Readable
  abstract readonly answerStream: AppAnswer
  /** The logical destination the app named (Host, or `:authority` for h2c). */
  abstract appAuthority (): string | undefined
  abstract appMethod (): string
  abstract appPath (): string
  /** True when the request carries a body: a length above zero, chunked framing, or an open h2 stream. */
  abstract appHasBody (): boolean
  /** The app's address (for the plugins' `source.address`). */
  abstract appRemoteAddress (): string
  /** Sends the response head; the body follows with writeChunk() and finish(). */
  abstract answer (status: number, headers: HeaderMap): void
  /** Writes a chunk of the response body; false when the app side wants a 'drain' first. */
  abstract writeChunk (chunk: Buffer): boolean
  /** Ends the response, with its trailers if any. */
  abstract finish (trailers: HeaderMap | undefined): void
  /** Tears the app's side down (a reset, or a cut connection). */
  abstract destroyAnswer (err: Error): void
  /** Answers with the error's status and code, or resets a response already started. */
  abstract answerError (err: MeshError): void

  // The steps run as plain calls while each one can answer at once (an endpoint ready, a pooled
  // session with room), and as promise callbacks only where they must wait: an async function
  // would cost a heap frame and a microtask per await on every request.

  /** Authority → service → endpoint. */
  start (): void {
    try {
      const authority = this.appAuthority()
      if (authority === undefined || authority === '') throw new MeshError('E_BAD_REQUEST', 'the request names no authority (Host header)')
      if (this.ctx.plugins !== undefined) {
        pluginRequestHead(this, authority, MESH_HEADERS)
        return
      }
      this.routeAuthority(authority)
    } catch (err) {
      this.rescue(err)
    }
  }

  /** Authority → service (→ route) → endpoint. */
  routeAuthority (authority: string): void {
    try {
      const { ctx } = this
      const service = ctx.router.resolve(authority)
      if (service === undefined) throw new MeshError('E_NO_ROUTE', `no service for authority "${authority}"`)
      this.authority = authority
      this.target = service
      if (ctx.policy !== undefined) {
        // Routed on the head the listener's plugins left, when there are any.
        const head = this.pluginHead
        this.routeBy(ctx.policy.route(service, head === undefined
          ? { method: this.appMethod(), path: this.appPath(), headers: this.appHeaders }
          : { method: head.line.method, path: head.line.path, headers: head.headers }))
        if (this.route?.plugins !== undefined) {
          routePluginHead(this, this.route.plugins, MESH_HEADERS)
          return
        }
      }
      this.pickEndpoint()
    } catch (err) {
      this.rescue(err)
    }
  }

  /** A matched route picks the backend (service or subset) by weight and counts a request in the budget. */
  routeBy (route: RoutePlan | undefined): void {
    if (route === undefined) return
    const chosen = route.choose()
    if (chosen === undefined) throw new MeshError('E_NO_ROUTE', `route ${route.name} of ${route.service} resolves to no service`)
    this.route = route
    this.target = chosen
    route.budget.deposit()
    // The listener's plugins ran before routing; from now on they can read the route's name.
    if (this.plugins !== undefined) this.plugins.learn(routeProperties(route.name))
  }

  pickEndpoint (): void {
    const { ctx, target } = this
    const ready = ctx.picker.tryPick?.(target, 'request')
    if (ready !== undefined) {
      this.picked(ready)
      return
    }
    // The wait for an endpoint (bounded by balancing.queue.maxWaitMs) ends early if the client leaves.
    ctx.picker.pick(target, 'request', this.abort).then((pick) => this.picked(pick), (err: unknown) => this.rescue(err))
  }

  /** Endpoint → request head → pooled session. */
  picked (pick: Pick): void {
    this.pick = pick
    try {
      const { ctx } = this
      const endpoint = pick.endpoint
      if (this.tries > 0) {
        // A retry: the same request to the endpoint just picked.
        const prev = this.head as RequestHead
        this.head = { ...prev, headers: { ...prev.headers, [WIRE_HEADERS.target]: endpoint.target } }
      } else {
        const fromPlugins = this.pluginHead
        const headers = fromPlugins?.headers ?? endToEndHeaders(this.appHeaders, MESH_HEADERS)
        headers[WIRE_HEADERS.target] = endpoint.target
        headers[REQUEST_ID_HEADER] = this.requestId
        if (this.protocol === 'http1') headers[WIRE_HEADERS.origProto] = 'HTTP/1.1'
        this.head = fromPlugins === undefined
          ? { method: this.appMethod(), authority: this.authority, path: this.appPath(), scheme: 'http', headers }
          : { method: fromPlugins.line.method, authority: this.authority, path: fromPlugins.line.path, scheme: 'http', headers }
        const requestMs = requestTimeoutMs(this.route?.requestMs ?? ctx.timeouts.requestMs, this.appHeaders['grpc-timeout'])
        // One interval timer for all requests, not a Timeout object per request (timeout-list.ts).
        if (requestMs > 0) timeoutList(requestMs).add(this)
        this.hasBody = this.appHasBody()
        if (this.hasBody) {
          countRequestBody(this.appBody, this)
          if (this.plugins !== undefined) this.pluginBody = pluginRequestBody(this.plugins, this.appBody)
          const retry = this.route?.retry
          // What is kept for replay is what the plugins made of the body.
          if (retry !== undefined && retry.maxRetries > 0) this.replay = new ReplayBody(this.pluginBody ?? this.appBody, retry.maxBodyBytes)
        }
      }
      if (this.route !== undefined && (this.route.retry !== undefined || this.route.perTryMs !== undefined)) this.startTry()
      // A session with room is usually pooled already: no promise for it then.
      const session = readySessionFor(ctx, endpoint)
      if (session !== undefined) {
        this.send(session)
        return
      }
      sessionFor(ctx, endpoint).then((s) => this.send(s), (err: unknown) => this.failed(err, undefined))
    } catch (err) {
      this.failed(err, undefined)
    }
  }

  /** Session → request on the peer. */
  send (session: PeerSession): void {
    const { abort } = this
    if (abort.aborted) {
      this.failed(abort.reason, session)
      return
    }
    const body = this.hasBody ? (this.replay?.attempt() ?? this.pluginBody ?? this.appBody) : null
    this.session = session
    if (session.requestTo !== undefined) {
      // The session reports to this exchange (response() / failed()): no promise per request.
      session.requestTo(this.head as RequestHead, body, this, this)
      return
    }
    session.request(this.head as RequestHead, body, this).then(
      (response) => this.responded(session, response),
      (err: unknown) => this.failed(err, session))
  }

  // ResponseTarget and StreamOptions of the request on the peer (the exchange is both: no object
  // per request for either).
  get signal (): LightAbortSignal { return this.tryAbort ?? this.abort }
  response (response: PeerResponse): void { this.responded(this.session as PeerSession, response) }
  // (failed(err) below takes the session the request went to.)

  /** No response head: report it against the endpoint (unless the client left) and answer with the error. */
  failed (err: unknown, session: PeerSession | undefined = this.session): void {
    const { abort, pick } = this
    // A kept body starts afresh on the new stream (replay-body.ts): as good as unread.
    const sent = this.hasBody && this.replay?.replayable !== true ? (this.pluginBody ?? this.appBody) : null
    if (!this.rerouted && session !== undefined && pick !== undefined && !abort.aborted && mayResend(err, session, sent)) {
      // A session going away refused the stream unprocessed: once more, as sessionFor()'s rerouting
      // wrapper does (readySessionFor() hands out unwrapped sessions), and only once: on an
      // unwrapped session too, so the wrapper does not resend it a second time.
      this.rerouted = true
      this.session = undefined
      unwrappedSessionFor(this.ctx, pick.endpoint).then((s) => this.send(s), (e: unknown) => this.failed(e, undefined))
      return
    }
    if (this.route !== undefined && !abort.aborted && this.retryFailure(err, session)) return
    this.endTry()
    this.timedList?.remove(this)
    const meshErr = abort.aborted && abort.reason instanceof MeshError ? abort.reason : toMeshError(err, 'E_PEER_UNREACHABLE')
    if (pick !== undefined) {
      // A client that left says nothing about the endpoint; anything else counts against it.
      pick.done({ ok: meshErr === this.clientGone, latencyMs: performance.now() - this.started })
      this.peerIdentity = session?.peerIdentity ?? pick.endpoint.identity
      this.transport = session?.transport ?? pick.endpoint.transport
    }
    this.report(meshErr.status, meshErr.code)
    this.rescue(meshErr)
  }

  responded (session: PeerSession, response: PeerResponse): void {
    if (this.route !== undefined && !this.abort.aborted && (this.retryResponse(session, response) || this.holdForTrailers(session, response))) return
    this.endTry()
    this.timedList?.remove(this)
    try {
      this.respond(this.pick as Pick, session, response)
    } catch (err) {
      this.rescue(err)
    }
  }

  /** The response head is back: report it, answer the app and stream the body through. */
  respond (pick: Pick, session: PeerSession, response: PeerResponse): void {
    const { ctx } = this
    const status = response.head.status
    // Failure accrual counts 5xx the peer proxy generated (it names an error code), not the app's own.
    const errorCode = headerValue(response.head.headers, WIRE_HEADERS.error)
    pick.done({ ok: status < 500 || errorCode === undefined, latencyMs: performance.now() - this.started })
    this.peerResponse = response
    this.status = status
    this.errorCode = errorCode
    this.peerIdentity = session.peerIdentity
    this.transport = session.transport
    if (ctx.timeouts.idleMs > 0) timeoutList(ctx.timeouts.idleMs).add(this)
    if (this.plugins !== undefined) {
      pluginResponseHead(this, session, response)
      return
    }
    this.report(status, errorCode)
    this.streamResponse(status, endToEndHeaders(response.head.headers), response.body)
  }

  /** Answers the app with the response head and streams the body through. */
  streamResponse (status: number, headers: HeaderMap, peerBody: Readable): void {
    this.answer(status, headers)
    // pipe() by hand: one 'data' listener both counts and writes, and no pipe() bookkeeping.
    const body: PeerBody = peerBody
    this.body = body
    body[kExchange] = this
    body.on('data', onPeerBodyData)
    body.once('end', onPeerBodyEnd)
    body.on('error', onPeerBodyError)
    body.once('close', onPeerBodyClose)
    if (this.left) {
      // The app's response closed while the head was on its way: nothing to stream to.
      this.done(this.clientGone ?? new MeshError('E_UPSTREAM_RESET', 'the client went away'))
    }
  }

  // Retries (routes with `retry`), each try with its own signal and per-try timeout.

  /** Arms the try about to be sent: its own signal (aborted with the exchange's) and per-try timer. */
  startTry (): void {
    this.endTry()
    this.tryAbort = new LightAbortSignal()
    this.tryTimedOut = false
    const perTryMs = this.route?.perTryMs
    if (perTryMs !== undefined) this.tryTimer = setTimeout(onPerTryTimeout, perTryMs, this)
  }

  endTry (): void {
    if (this.tryTimer !== undefined) clearTimeout(this.tryTimer)
    this.tryTimer = undefined
  }

  /** Aborts the whole exchange (client gone, route timeout) and the try in flight. */
  abortAll (reason: MeshError): void {
    this.abort.abort(reason)
    this.tryAbort?.abort(reason)
  }

  /** A try failed without a response head: retry it when the route allows, the body can be replayed and the budget has room. */
  retryFailure (err: unknown, session: PeerSession | undefined): boolean {
    const retry = this.route?.retry
    if (retry === undefined || this.tries >= retry.maxRetries || (this.replay !== undefined && !this.replay.replayable)) return false
    const condition = failureCondition(session !== undefined, this.tryTimedOut)
    if (!mayRetryFailure(retry, condition, this.appMethod())) return false
    const pick = this.pick
    if (!this.withdraw(condition)) return false
    pick?.done({ ok: false, latencyMs: performance.now() - this.started })
    this.ctx.logger.debug({ requestId: this.requestId, route: this.route?.name, condition, err: err instanceof Error ? err.message : String(err) }, 'retrying')
    this.retryNow()
    return true
  }

  /** A response head asks for a retry (5xx on an idempotent request, a retryable gRPC status): drop it and retry. */
  retryResponse (session: PeerSession, response: PeerResponse): boolean {
    const retry = this.route?.retry
    if (retry === undefined || this.tries >= retry.maxRetries || (this.replay !== undefined && !this.replay.replayable)) return false
    const headers = response.head.headers
    const reason = responseRetryReason(retry, response.head.status, headerValue(headers, 'grpc-status'), this.appMethod())
    if (reason === undefined || !this.withdraw(reason)) return false
    const errorCode = headerValue(headers, WIRE_HEADERS.error)
    this.pick?.done({ ok: response.head.status < 500 || errorCode === undefined, latencyMs: performance.now() - this.started })
    response.body.on('error', noop)
    response.body.destroy()
    this.ctx.logger.debug({ requestId: this.requestId, route: this.route?.name, reason, status: response.head.status, peer: session.peerIdentity }, 'retrying')
    this.retryNow()
    return true
  }

  /**
   * A gRPC answer whose status is still to come (in the trailers) on a route with retryable gRPC
   * codes: held back from the app until the trailers or `maxResponseBytes` (held-response.ts).
   * The request and per-try timeouts keep running while it is held.
   */
  holdForTrailers (session: PeerSession, response: PeerResponse): boolean {
    const retry = this.route?.retry
    if (retry === undefined || retry.grpcCodes.length === 0 || this.tries >= retry.maxRetries || (this.replay !== undefined && !this.replay.replayable)) return false
    const headers = response.head.headers
    if (headerValue(headers, 'grpc-status') !== undefined || headerValue(headers, 'content-type')?.startsWith('application/grpc') !== true) return false
    // No retry could follow: stream it on at once.
    if ((this.route as RoutePlan).budget.balance() < 1) return false
    const held: HeldResponse = new HeldResponse(response, retry.maxResponseBytes, (outcome) => { this.heldOutcome(session, held, outcome) })
    return true
  }

  /** The hold ended: retry on a retryable status in the trailers, else answer the app with what was held and the rest. */
  heldOutcome (session: PeerSession, held: HeldResponse, outcome: HoldOutcome): void {
    if (outcome instanceof Error) {
      // Nothing reached the app: a failed try like one without a response head (may be retried as a reset or timeout).
      this.failed(outcome, session)
      return
    }
    if (outcome === 'ended' && !this.abort.aborted && this.retryTrailers(session, held)) return
    this.endTry()
    this.timedList?.remove(this)
    try {
      this.respond(this.pick as Pick, session, held.release())
    } catch (err) {
      this.rescue(err)
    }
  }

  /** The trailers of a held gRPC answer name a retryable status: drop it and retry, budget allowing. */
  retryTrailers (session: PeerSession, held: HeldResponse): boolean {
    const retry = this.route?.retry
    if (retry === undefined || (this.replay !== undefined && !this.replay.replayable)) return false
    const grpcStatus = headerValue(held.response.trailers() ?? {}, 'grpc-status')
    // Only the gRPC status counts here: the head's HTTP status was judged when it came.
    if (responseRetryReason(retry, 200, grpcStatus, this.appMethod()) !== 'grpc' || !this.withdraw('grpc')) return false
    this.pick?.done({ ok: true, latencyMs: performance.now() - this.started })
    held.discard()
    this.ctx.logger.debug({ requestId: this.requestId, route: this.route?.name, reason: 'grpc', grpcStatus, heldBytes: held.bytes, peer: session.peerIdentity }, 'retrying')
    this.retryNow()
    return true
  }

  /** One retry out of the budget; counted either way. */
  withdraw (reason: string): boolean {
    const route = this.route as RoutePlan
    if (!route.budget.tryWithdraw()) {
      route.observer.budgetExhausted(route.service, route.name)
      return false
    }
    route.observer.retry(route.service, route.name, reason)
    return true
  }

  retryNow (): void {
    this.endTry()
    this.tries++
    this.session = undefined
    this.rerouted = false
    const backoffMs = this.route?.retry?.backoffMs ?? 0
    if (backoffMs > 0) setTimeout(retryAfterBackoff, backoffMs, this)
    else this.retryPick()
  }

  retryPick (): void {
    if (this.abort.aborted) {
      this.failed(this.abort.reason, undefined)
      return
    }
    try {
      this.pickEndpoint()
    } catch (err) {
      this.rescue(err)
    }
  }

  /**
   * A timeout of this exchange fired: before the response head the request's (the request is
   * aborted), after it the idle one (no bytes either way for idleMs: both sides are torn down).
   */
  timedOut (list: TimeoutList): void {
    if (this.peerResponse === undefined) this.abortAll(new MeshError('E_REQUEST_TIMEOUT', `no response head within ${list.durationMs} ms`))
    else this.done(new MeshError('E_IDLE_TIMEOUT', `no response bytes for ${list.durationMs} ms`))
  }

  /** The response body is done, or failed on either side (then both sides are torn down). */
  done (err?: Error): void {
    if (this.settled) return
    this.settled = true
    this.timedList?.remove(this)
    const { ctx } = this
    if (this.plugins !== undefined) pluginLog(this)
    let failure: MeshError | undefined
    if (err !== undefined) {
      this.body?.destroy(err)
      this.destroyAnswer(err)
      failure = toMeshError(err, 'E_PEER_RESET')
      ctx.logger.debug({ code: failure.code, err: failure.message, requestId: this.requestId }, 'response stream ended early')
    }
    ctx.telemetry.requestEnd({
      route: this.route?.name,
      direction: 'outbound',
      authority: this.head?.authority ?? '',
      status: this.status,
      requestBytes: this.requestBytes,
      responseBytes: this.responseBytes,
      totalSeconds: (performance.now() - this.started) / 1000,
      identity: ctx.identity,
      peerIdentity: this.peerIdentity,
      transport: this.transport,
      errorCode: failure?.code ?? this.errorCode,
    })
  }

  /**
   * No response head came: answer with the error (or reset a response already started). A request
   * answered here before any step reported it (no authority, no route, no endpoint, a plugin or
   * a step that threw) is counted now, under the status and code it is answered with.
   */
  rescue (err: unknown): void {
    const meshErr = toMeshError(err)
    this.ctx.logger.warn({ code: meshErr.code, err: meshErr.message, requestId: this.requestId, authority: this.appAuthority() }, 'outbound request failed')
    this.report(meshErr.status, meshErr.code)
    if (this.plugins !== undefined) pluginLog(this)
    this.answerError(meshErr)
  }

  /**
   * The exchange's one RequestEvent. Before an endpoint was picked there is no request head: the
   * authority is the one the router resolved to a service ('' when none did, so that unknown
   * names cannot grow the label), method and path the app's.
   */
  report (status: number, errorCode: string | undefined): void {
    if (this.reported) return
    this.reported = true
    const head = this.head
    this.ctx.telemetry.request({
      route: this.route?.name,
      direction: 'outbound',
      protocol: this.protocol,
      authority: head?.authority ?? this.authority,
      method: head?.method ?? this.appMethod(),
      path: head?.path ?? this.appPath(),
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

/** Counts the request body (and, once the response streams, marks it as activity). */
function countRequestBody (body: AppBody, exchange: OutboundExchange): void {
  body[kExchange] = exchange
  body.on('data', onAppBodyData)
  // Adding a 'data' listener starts the flow; pause again so no chunk is emitted before the
  // request on the peer pipes the body (pipe() resumes it).
  body.pause()
}

function onAppBodyData (this: AppBody, chunk: Buffer): void {
  const exchange = this[kExchange]
  if (exchange === undefined) return
  exchange.requestBytes += chunk.length
  // Before the response head the timer is the request timeout, which an upload does not extend.
  if (exchange.peerResponse !== undefined) TimeoutList.touch(exchange)
}

/** The app's answer closed: finished, or the client left early (then the peer stream is cancelled). */
export function onAppAnswerClose (this: AppAnswer): void {
  const exchange = this[kExchange]
  if (exchange === undefined) return
  if (!exchange.left) {
    exchange.left = true
    exchange.ctx.inflight.leave()
  }
  if (this.writableFinished) {
    if (exchange.peerResponse !== undefined) exchange.done()
    return
  }
  exchange.clientGone ??= new MeshError('E_UPSTREAM_RESET', 'the client went away')
  exchange.abortAll(exchange.clientGone)
  if (exchange.peerResponse !== undefined) exchange.done(exchange.clientGone)
}

export function onAppAnswerError (this: AppAnswer, err: Error): void {
  // Before the response head there is nothing to tear down: 'close' follows and tells the rest.
  if (this[kExchange]?.peerResponse !== undefined) this[kExchange]?.done(err)
}

function onAppAnswerDrain (this: AppAnswer): void {
  const exchange = this[kExchange]
  if (exchange === undefined) return
  exchange.waitingForDrain = false
  exchange.body?.resume()
}

function onPeerBodyData (this: PeerBody, chunk: Buffer): void {
  const exchange = this[kExchange]
  if (exchange === undefined) return
  exchange.responseBytes += chunk.length
  TimeoutList.touch(exchange)
  // Backpressure as pipe() does it: pause the body until the app's side drains.
  if (!exchange.writeChunk(chunk) && !exchange.waitingForDrain) {
    exchange.waitingForDrain = true
    this.pause()
    exchange.answerStream.once('drain', onAppAnswerDrain)
  }
}

function onPeerBodyEnd (this: PeerBody): void {
  const exchange = this[kExchange]
  if (exchange?.peerResponse === undefined) return
  exchange.finish(forwardableTrailers(exchange.peerResponse.trailers()))
}

function onPeerBodyError (this: PeerBody, err: Error): void {
  this[kExchange]?.done(err)
}

function onPeerBodyClose (this: PeerBody): void {
  // Closed without its end and without an error: the peer stream went away under it.
  if (!this.readableEnded) this[kExchange]?.done(this.errored ?? new MeshError('E_PEER_RESET', 'the peer response ended early'))
}

function noop (): void {}

function onPerTryTimeout (exchange: OutboundExchange): void {
  exchange.tryTimer = undefined
  exchange.tryTimedOut = true
  exchange.tryAbort?.abort(new MeshError('E_REQUEST_TIMEOUT', `no response head within the per-try timeout of ${exchange.route?.perTryMs ?? 0} ms`))
}

function retryAfterBackoff (exchange: OutboundExchange): void {
  exchange.retryPick()
}

/**
 * The request timeout in ms (0 = none): the route's or the config's, shortened by a gRPC
 * deadline. A deadline is kept to two significant digits, rounded down, so that the timeout
 * lists (one per duration) stay few whatever deadlines clients send.
 */
export function requestTimeoutMs (configured: number, grpcTimeout: string | string[] | undefined): number {
  if (grpcTimeout === undefined) return configured
  const deadline = parseGrpcTimeout(grpcTimeout)
  if (deadline === undefined) return configured
  const scale = 10 ** Math.max(0, Math.floor(Math.log10(deadline)) - 1)
  const rounded = Math.max(1, Math.floor(deadline / scale) * scale)
  return configured > 0 ? Math.min(configured, rounded) : rounded
}
