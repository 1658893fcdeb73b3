/**
 * The native HTTP path of an outbound listener (docs/native-http.md, stages 2 and 4): the
 * transport's HTTP front (the engine) parses the app's HTTP/1 requests or serves its h2c
 * streams, and moves their bodies and responses; this file decides, once per request head, where
 * each goes (authority → service → route → balancer pick → pooled session, the steps
 * OutboundExchange takes), and records each exchange from the one record the engine sends at its
 * end: metrics, access log and the balancer's feedback.
 *
 * What the engine does not carry goes to the JS path before anything of it was sent: Upgrade and
 * CONNECT, routes with retries, per-try timeouts or plugins, and a session that is not the
 * engine's (h3, a remote cluster's gateway). `expect: 100-continue` stays native on both HTTP/1
 * and h2c: the engine sends the 100 once the request is forwarded. An HTTP/1 connection is
 * handed back to node:http; an h2c stream cannot be,
 * so it is refused (REFUSED_STREAM, which a client may retry) with a GOAWAY, and the listener's
 * new h2c connections go to node:http2 for a while (h2cNative()). A listener whose config can
 * need JS for h2c never gives h2c to the engine.
 * Each hand-back and each native request is counted in meshgate_http_data_path_total{path, reason}.
 */
import { STATUS_CODES, type IncomingHttpHeaders } from 'node:http'
import type { Socket } from 'node:net'
import { MeshError, toMeshError, type ErrorCode } from '../../core/errors.js'
import type { Pick } from '../balance/types.js'
import type { Endpoint } from '../discovery/types.js'
import { appendEndToEnd, headerValue, REQUEST_ID_HEADER } from '../http/headers.js'
import { headersFromRaw } from '../http/raw-headers.js'
import { TokenTable } from '../http/token-table.js'
import { rawErrorResponse } from '../http/rescue.js'
import type { RoutePlan } from '../route/policy.js'
import type { H2cCloseReason } from '../../transports/contract.js'
import { LightAbortSignal } from '../../transports/abort-signal.js'
import { WIRE_HEADERS, type HttpFront, type HttpFrontHead, type HttpFrontRecord, type PeerSession } from '../../transports/contract.js'
import { readySessionFor, unwrappedSessionFor, type OutboundContext } from './context.js'
import { reportEarlyAnswer } from './early-answer.js'
import { MESH_HEADERS, requestIdOf, requestTimeoutMs } from './http-exchange.js'

/** Why a request left the native path (the `reason` label). */
export type HandBackReason = 'upgrade' | 'route_features' | 'session_kind'

/** Counts which path each HTTP/1 request took. */
export interface DataPathObserver {
  request: (path: 'native' | 'js', reason: string) => void
  /** An inbound HTTP request, by the path that delivered it to the workload (optional). */
  inbound?: (path: 'native' | 'js') => void
}

/** What the listener gives the native path. */
export interface NativeHttpOptions {
  /** The transport's front, built with this object's handlers (see create()). */
  front: (handlers: import('../../transports/contract.js').HttpFrontHandlers) => HttpFront
  /** Serves a handed-back connection with node:http (the bytes go back into the socket first). */
  handBack: (socket: Socket, bytes: Buffer) => void
  observer?: DataPathObserver
}

/** What the app's fields lose on the wire: the mesh's own (set again) and the request id (set once). */
const WIRE_DROPPED: ReadonlySet<string> = new Set([...MESH_HEADERS, REQUEST_ID_HEADER])

/** After an h2c stream was refused, new h2c connections go to node:http2 for this long, ms. */
const H2C_JS_AFTER_REFUSAL_MS = 60_000

/** One request the engine parsed, from its head to its record. */
class NativeRequest {
  readonly conn: number
  readonly head: HttpFrontHead
  readonly headers: IncomingHttpHeaders
  readonly requestId: string
  readonly started = performance.now()
  readonly abort = new LightAbortSignal()
  authority = ''
  target = ''
  route: RoutePlan | undefined = undefined
  pick: Pick | undefined = undefined
  session: PeerSession | undefined = undefined
  /** The wire field section (pseudo-headers first), once an endpoint is picked. */
  fields: string[] | undefined = undefined
  token = 0
  /** Refused unprocessed once and sent again (#onRefused). */
  resent = false
  /** In NativeHttp's #deciding: a pick or a session is awaited (a decision made at once never is). */
  waiting = false

  constructor (conn: number, head: HttpFrontHead) {
    this.conn = conn
    this.head = head
    this.headers = headersFromRaw(head.headers)
    this.requestId = requestIdOf(this.headers)
  }

  get h2c (): boolean { return this.head.stream !== 0 }
  /** Its key in NativeHttp's #deciding (made only for a request that waits). */
  get key (): string { return requestKey(this.conn, this.head.stream) }
}

/** A pending head's key: its connection and, for h2c, its stream. */
function requestKey (conn: number, stream: number): string {
  return `${conn}:${stream}`
}

export class NativeHttp {
  readonly #ctx: OutboundContext
  readonly #front: HttpFront
  readonly #options: NativeHttpOptions
  /** Requests being decided (by connection and stream) and forwarded (by token). */
  // Only requests whose decision waits are keyed by connection and stream; forwarded ones are in
  // a TokenTable, not a Map, since a Map's churn promotes dead requests (see token-table.ts).
  readonly #deciding = new Map<string, NativeRequest>()
  readonly #forwarded = new TokenTable<NativeRequest>()
  /** Until when new h2c connections go to node:http2 (a stream was refused), performance.now() ms. */
  #h2cJsUntil = 0

  constructor (ctx: OutboundContext, options: NativeHttpOptions) {
    this.#ctx = ctx
    this.#options = options
    this.#front = options.front({
      head: (conn, head) => this.#onHead(conn, head),
      record: (_conn, record) => this.#onRecord(record),
      refused: (_conn, token) => this.#onRefused(token),
      closed: (conn) => this.#onClosed(conn),
      h2c: {
        streamGone: (conn, stream) => this.#onStreamGone(conn, stream),
        sessionClosed: (_conn, reason, message) => this.#onH2cClosed(reason, message),
        resets: (_conn, count) => { for (let i = 0; i < count; i++) this.#ctx.appClients?.streamReset() },
      },
    })
  }

  /**
   * Whether an h2c connection accepted now goes to the engine: not while a refusal's back-off
   * runs, and never when the config has what only the JS path serves for a stream (a route with
   * retries, a per-try timeout or plugins; h3 peers; remote clusters).
   */
  h2cNative (): boolean {
    if (performance.now() < this.#h2cJsUntil) return false
    const ctx = this.#ctx
    return ctx.transports.has('h3') === false && ctx.remote === undefined && ctx.policy?.needsJsPath !== true
  }

  /** Hands an accepted socket detected as HTTP/1 or h2c (`http2`) to the engine (which closes the JS socket). */
  adopt (socket: Socket, protocol: 'http1' | 'http2'): void {
    try {
      this.#front.adopt(socket, protocol)
    } catch (err) {
      this.#ctx.logger.warn({ code: 'E_INTERNAL', err: (err as Error).message }, 'cannot hand the app connection to the native engine')
      socket.destroy()
    }
  }

  /** Connections end after their current exchange. */
  drain (): void { this.#front.drain() }

  close (): void {
    this.#front.close()
  }

  #onClosed (conn: number): void {
    const http1 = this.#deciding.get(requestKey(conn, 0))
    if (http1 !== undefined) {
      this.#stopWaiting(http1)
      http1.abort.abort(new MeshError('E_UPSTREAM_RESET', 'the client went away'))
      return
    }
    // An h2c connection may have several heads pending (rare: only while a pick or a dial waits).
    for (const req of this.#deciding.values()) {
      if (req.conn !== conn) continue
      this.#stopWaiting(req)
      req.abort.abort(new MeshError('E_UPSTREAM_RESET', 'the client went away'))
    }
  }

  #onStreamGone (conn: number, stream: number): void {
    const req = this.#deciding.get(requestKey(conn, stream))
    if (req === undefined) return
    this.#stopWaiting(req)
    this.#ctx.appClients?.streamReset()
    req.abort.abort(new MeshError('E_UPSTREAM_RESET', 'the client reset the stream'))
  }

  /** One log line and one count per session the engine ended by a rule, whatever its streams did. */
  #onH2cClosed (reason: H2cCloseReason, message: string): void {
    const { logger, appClients } = this.#ctx
    switch (reason) {
      case 'rapid_reset':
        appClients?.sessionClosed('rapid_reset')
        logger.warn({ code: 'E_APP_RAPID_RESET', reason: message }, 'app h2c session closed with GOAWAY(ENHANCE_YOUR_CALM)')
        break
      case 'max_requests':
        appClients?.sessionClosed('max_requests')
        break
      case 'header_timeout':
        appClients?.sessionClosed('header_timeout')
        logger.debug({ code: 'E_HEADER_TIMEOUT', err: message }, 'h2c connection sent no request head in time')
        break
      case 'flood':
        appClients?.sessionClosed('flood')
        logger.warn({ code: 'E_APP_FLOOD', reason: message }, 'app h2c session closed with GOAWAY(ENHANCE_YOUR_CALM)')
        break
      case 'protocol':
        logger.debug({ code: 'E_BAD_REQUEST', err: message }, 'h2c session error')
        break
    }
  }

  /** Puts a request whose decision waits where a closed connection or a reset stream finds it. */
  #startWaiting (req: NativeRequest): void {
    if (req.waiting) return
    req.waiting = true
    this.#deciding.set(req.key, req)
  }

  #stopWaiting (req: NativeRequest): void {
    if (!req.waiting) return
    req.waiting = false
    this.#deciding.delete(req.key)
  }

  #handBack (req: NativeRequest, reason: HandBackReason): void {
    this.#stopWaiting(req)
    if (req.h2c) {
      // A stream cannot leave its connection: refused (the client may retry it), the connection
      // told to go away, and the next connections served by node:http2 for a while.
      this.#front.refuse(req.conn, req.head.stream)
      this.#h2cJsUntil = performance.now() + H2C_JS_AFTER_REFUSAL_MS
      this.#options.observer?.request('js', reason)
      this.#ctx.logger.info({ reason, requestId: req.requestId }, 'h2c stream refused for the JS path; new h2c connections use it for a minute')
      return
    }
    const back = this.#front.handBack(req.conn)
    if (back === undefined) return
    this.#options.observer?.request('js', reason)
    this.#ctx.logger.debug({ reason, requestId: req.requestId }, 'HTTP/1 connection handed back to the JS path')
    this.#options.handBack(back.socket, back.bytes)
  }

  /** Answers the pending request with an error (counted here unless a pick reported it); the engine closes the connection after it. */
  #answer (req: NativeRequest, err: MeshError): void {
    this.#stopWaiting(req)
    if (req.pick === undefined) reportEarlyAnswer(this.#ctx, err, { authority: req.authority, method: req.head.method, path: req.head.target, started: req.started, requestId: req.requestId })
    this.#ctx.logger.warn({ code: err.code, err: err.message, requestId: req.requestId, authority: req.authority || authorityOf(req) }, 'outbound request failed')
    if (req.h2c) this.#front.answerStream(req.conn, req.head.stream, err.status, err.code, err.message)
    else this.#front.answer(req.conn, Buffer.from(rawErrorResponse(err, STATUS_CODES[err.status] ?? '')), true)
  }

  // Authority → service → route, then the pick (now, or once an endpoint is ready).
  #onHead (conn: number, head: HttpFrontHead): void {
    const req = new NativeRequest(conn, head)
    if (head.upgrade || head.method === 'CONNECT') return this.#handBack(req, 'upgrade')
    // `expect: 100-continue`: the engine sends the 100 itself once the request is forwarded.
    const ctx = this.#ctx
    try {
      const authority = authorityOf(req)
      if (authority === undefined || authority === '') throw new MeshError('E_BAD_REQUEST', 'the request names no authority (Host header)')
      const service = ctx.router.resolve(authority)
      if (service === undefined) throw new MeshError('E_NO_ROUTE', `no service for authority "${authority}"`)
      req.authority = authority
      req.target = service
      const route = ctx.policy?.route(service, { method: head.method, path: head.target, headers: req.headers })
      if (route !== undefined) {
        if (route.plugins !== undefined || route.retry !== undefined || route.perTryMs !== undefined) return this.#handBack(req, 'route_features')
        const chosen = route.choose()
        if (chosen === undefined) throw new MeshError('E_NO_ROUTE', `route ${route.name} of ${route.service} resolves to no service`)
        req.route = route
        req.target = chosen
        route.budget.deposit()
      }
      const ready = ctx.picker.tryPick?.(req.target, 'request')
      if (ready !== undefined) {
        this.#picked(req, ready)
        return
      }
      this.#startWaiting(req)
      ctx.picker.pick(req.target, 'request', req.abort).then((pick) => this.#picked(req, pick), (err: unknown) => this.#failed(req, err))
    } catch (err) {
      this.#failed(req, err)
    }
  }

  #picked (req: NativeRequest, pick: Pick): void {
    req.pick = pick
    if (req.abort.aborted) {
      pick.done({ ok: true, latencyMs: performance.now() - req.started })
      return
    }
    const endpoint = pick.endpoint
    // The field section the JS path's request head makes (transports/h3/headers.ts requestFields()),
    // built flat: the engine takes it as it is.
    const fields = [':method', req.head.method.toUpperCase(), ':authority', req.authority, ':scheme', 'http', ':path', req.head.target === '' ? '/' : req.head.target]
    appendEndToEnd(fields, req.headers, WIRE_DROPPED)
    fields.push(WIRE_HEADERS.target, endpoint.target, REQUEST_ID_HEADER, req.requestId)
    if (!req.h2c) fields.push(WIRE_HEADERS.origProto, 'HTTP/1.1')
    req.fields = fields
    this.#sendOnSession(req, endpoint)
  }

  /** Sends the request on a pooled session to `endpoint`: a ready one at once, else once one is. */
  #sendOnSession (req: NativeRequest, endpoint: Endpoint): void {
    try {
      const session = readySessionFor(this.#ctx, endpoint)
      if (session !== undefined) {
        this.#send(req, session)
        return
      }
      this.#startWaiting(req)
      unwrappedSessionFor(this.#ctx, endpoint).then((s) => this.#send(req, s), (err: unknown) => this.#failed(req, err))
    } catch (err) {
      this.#failed(req, err)
    }
  }

  #send (req: NativeRequest, session: PeerSession): void {
    const pick = req.pick as Pick
    if (req.abort.aborted) {
      pick.done({ ok: true, latencyMs: performance.now() - req.started })
      return
    }
    const ctx = this.#ctx
    req.session = session
    req.token = this.#forwarded.add(req)
    const requestMs = requestTimeoutMs(req.route?.requestMs ?? ctx.timeouts.requestMs, req.headers['grpc-timeout'])
    const result = this.#front.forward(req.conn, session, req.fields as string[], { requestMs, idleMs: ctx.timeouts.idleMs, token: req.token, stream: req.head.stream })
    if (result === 'sent') {
      this.#stopWaiting(req)
      ctx.inflight.enter()
      if (!req.resent) this.#options.observer?.request('native', 'plain')
      return
    }
    // Nothing was sent: the pick says nothing about the endpoint.
    this.#forwarded.take(req.token)
    pick.done({ ok: true, latencyMs: performance.now() - req.started })
    if (result === 'gone') this.#stopWaiting(req)
    else if (result === 'not-native') this.#handBack(req, 'session_kind')
    else if (result === 'bad-fields') {
      const err = new MeshError('E_BAD_REQUEST', 'a request header field holds a NUL byte')
      this.#report(req, err.status, err.code, pick.endpoint.identity, pick.endpoint.transport, performance.now() - req.started)
      this.#answer(req, err)
    }
  }

  /** No stream was opened: answer the app with the error (reported against the endpoint if one was picked). */
  #failed (req: NativeRequest, err: unknown): void {
    if (req.abort.aborted) {
      req.pick?.done({ ok: true, latencyMs: performance.now() - req.started })
      return
    }
    const meshErr = toMeshError(err, 'E_PEER_UNREACHABLE')
    if (req.pick !== undefined) {
      req.pick.done({ ok: false, latencyMs: performance.now() - req.started })
      this.#report(req, meshErr.status, meshErr.code, req.pick.endpoint.identity, req.pick.endpoint.transport, performance.now() - req.started)
    }
    this.#answer(req, meshErr)
  }

  /**
   * The peer refused a forwarded request unprocessed (a session going away): once more, on a
   * session to the same endpoint, as the JS path does (http-exchange.ts failed()); the engine
   * gives a request back only once.
   */
  #onRefused (token: number): void {
    const req = this.#forwarded.take(token)
    if (req === undefined) return
    this.#ctx.inflight.leave()
    req.resent = true
    this.#ctx.logger.debug({ requestId: req.requestId, authority: req.authority }, 'request refused unprocessed by the peer; sending it once more')
    this.#sendOnSession(req, (req.pick as Pick).endpoint)
  }

  /** The engine's record of a forwarded exchange: the balancer's feedback, metrics and logs. */
  #onRecord (record: HttpFrontRecord): void {
    if (record.token === 0) {
      // The engine answered a head JS never saw (malformed, too large, too slow): counted as the JS path counts node's refusals.
      const refused = new MeshError((record.failure ?? 'E_BAD_REQUEST') as ErrorCode, record.failureMessage)
      if (refused.code === 'E_HEADER_TIMEOUT') {
        // A slow client, not a malformed request: counted, logged at debug only (as the JS path).
        this.#ctx.appClients?.sessionClosed('header_timeout')
        this.#ctx.logger.debug({ code: refused.code }, 'HTTP/1 request head not complete in time')
      } else {
        this.#ctx.logger.warn({ code: refused.code, err: refused.message }, 'bad HTTP/1 request')
      }
      reportEarlyAnswer(this.#ctx, refused)
      return
    }
    const req = this.#forwarded.take(record.token)
    if (req === undefined) return
    const ctx = this.#ctx
    ctx.inflight.leave()
    if (record.clientReset) ctx.appClients?.streamReset()
    const session = req.session as PeerSession
    const pick = req.pick as Pick
    if (!record.headSent) {
      // No response head: the failure is this hop's (a reset, a timeout) or the client left.
      const failure = new MeshError((record.failure ?? 'E_PEER_RESET') as ErrorCode, record.failureMessage)
      pick.done({ ok: record.clientGone, latencyMs: record.headMs })
      this.#report(req, failure.status, failure.code, session.peerIdentity, session.transport, record.totalMs)
      if (!record.clientGone) ctx.logger.warn({ code: failure.code, err: failure.message, requestId: req.requestId, authority: req.authority }, 'outbound request failed')
      return
    }
    pick.done({ ok: record.status < 500 || record.peerError === undefined, latencyMs: record.headMs })
    this.#report(req, record.status, record.peerError, session.peerIdentity, session.transport, record.headMs)
    if (record.failure !== undefined) {
      ctx.logger.debug({ code: record.failure, err: record.failureMessage, requestId: req.requestId }, 'response stream ended early')
    }
    ctx.telemetry.requestEnd({
      route: req.route?.name,
      direction: 'outbound',
      authority: req.authority,
      status: record.status,
      requestBytes: record.requestBytes,
      responseBytes: record.responseBytes,
      totalSeconds: record.totalMs / 1000,
      identity: ctx.identity,
      peerIdentity: session.peerIdentity,
      transport: session.transport,
      errorCode: record.failure ?? record.peerError,
    })
  }

  #report (req: NativeRequest, status: number, errorCode: string | undefined, peerIdentity: string, transport: string, ms: number): void {
    this.#ctx.telemetry.request({
      route: req.route?.name,
      direction: 'outbound',
      protocol: req.h2c ? 'http2' : 'http1',
      authority: req.authority,
      method: req.head.method,
      path: req.head.target,
      identity: this.#ctx.identity,
      peerIdentity,
      transport,
      status,
      errorCode,
      durationSeconds: ms / 1000,
      requestId: req.requestId,
    })
  }
}

/** The request's authority: h2c's `:authority` (or a `host` field), HTTP/1's Host. */
function authorityOf (req: NativeRequest): string | undefined {
  return (req.h2c ? headerValue(req.headers, ':authority') : undefined) ?? headerValue(req.headers, 'host')
}
