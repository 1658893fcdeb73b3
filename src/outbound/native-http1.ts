/**
 * The native HTTP/1 path of an outbound listener (docs/native-http.md, stage 2): the transport's
 * HTTP front (the engine) parses the app's requests and moves their bodies and responses; this
 * file decides, once per request head, where each goes (authority → service → route → balancer
 * pick → pooled session, the steps OutboundExchange takes), and records each exchange from the
 * one record the engine sends at its end: metrics, access log and the balancer's feedback.
 *
 * What the engine does not carry is handed back to node:http before anything of it was sent:
 * Upgrade and CONNECT, `expect: 100-continue`, routes with retries, per-try timeouts or plugins,
 * and a session that is not the engine's (h3, a remote cluster's gateway). Each hand-back and
 * each native request is counted in meshgate_http_data_path_total{path, reason}.
 */
import { STATUS_CODES, type IncomingHttpHeaders } from 'node:http'
import type { Socket } from 'node:net'
import { MeshError, toMeshError, type ErrorCode } from '../../core/errors.js'
import type { Pick } from '../balance/types.js'
import { endToEndHeaders, headerValue, REQUEST_ID_HEADER } from '../http/headers.js'
import { headersFromRaw } from '../http/raw-headers.js'
import { rawErrorResponse } from '../http/rescue.js'
import type { RoutePlan } from '../route/policy.js'
import { LightAbortSignal } from '../../transports/abort-signal.js'
import { WIRE_HEADERS, type HttpFront, type HttpFrontHead, type HttpFrontRecord, type PeerSession, type RequestHead } from '../../transports/contract.js'
import { readySessionFor, unwrappedSessionFor, type OutboundContext } from './context.js'
import { reportEarlyAnswer } from './early-answer.js'
import { MESH_HEADERS, requestIdOf, requestTimeoutMs } from './http-exchange.js'

/** Why a request left the native path (the `reason` label). */
export type HandBackReason = 'upgrade' | 'expect_continue' | 'route_features' | 'session_kind'

/** Counts which path each HTTP/1 request took. */
export interface DataPathObserver {
  request: (path: 'native' | 'js', reason: string) => void
  /** An inbound HTTP request, by the path that delivered it to the workload (optional). */
  inbound?: (path: 'native' | 'js') => void
}

/** What the listener gives the native path. */
export interface NativeHttp1Options {
  /** The transport's front, built with this object's handlers (see create()). */
  front: (handlers: import('../../transports/contract.js').HttpFrontHandlers) => HttpFront
  /** Serves a handed-back connection with node:http (the bytes go back into the socket first). */
  handBack: (socket: Socket, bytes: Buffer) => void
  observer?: DataPathObserver
}

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
  wire: RequestHead | undefined = undefined
  token = 0

  constructor (conn: number, head: HttpFrontHead) {
    this.conn = conn
    this.head = head
    this.headers = headersFromRaw(head.headers)
    this.requestId = requestIdOf(this.headers)
  }
}

export class NativeHttp1 {
  readonly #ctx: OutboundContext
  readonly #front: HttpFront
  readonly #options: NativeHttp1Options
  /** Requests being decided (by connection) and forwarded (by token). */
  readonly #deciding = new Map<number, NativeRequest>()
  readonly #forwarded = new Map<number, NativeRequest>()
  #nextToken = 1

  constructor (ctx: OutboundContext, options: NativeHttp1Options) {
    this.#ctx = ctx
    this.#options = options
    this.#front = options.front({
      head: (conn, head) => this.#onHead(conn, head),
      record: (_conn, record) => this.#onRecord(record),
      closed: (conn) => this.#onClosed(conn),
    })
  }

  /** Hands an accepted socket detected as HTTP/1 to the engine (which closes the JS socket). */
  adopt (socket: Socket): void {
    try {
      this.#front.adopt(socket)
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
    const waiting = this.#deciding.get(conn)
    if (waiting !== undefined) {
      this.#deciding.delete(conn)
      waiting.abort.abort(new MeshError('E_UPSTREAM_RESET', 'the client went away'))
    }
  }

  #handBack (req: NativeRequest, reason: HandBackReason): void {
    this.#deciding.delete(req.conn)
    const back = this.#front.handBack(req.conn)
    if (back === undefined) return
    this.#options.observer?.request('js', reason)
    this.#ctx.logger.debug({ reason, requestId: req.requestId }, 'HTTP/1 connection handed back to the JS path')
    this.#options.handBack(back.socket, back.bytes)
  }

  /** Answers the pending request with an error (counted here unless a pick reported it); the engine closes the connection after it. */
  #answer (req: NativeRequest, err: MeshError): void {
    this.#deciding.delete(req.conn)
    if (req.pick === undefined) reportEarlyAnswer(this.#ctx, err, { authority: req.authority, method: req.head.method, path: req.head.target, started: req.started, requestId: req.requestId })
    this.#ctx.logger.warn({ code: err.code, err: err.message, requestId: req.requestId, authority: req.authority || headerValue(req.headers, 'host') }, 'outbound request failed')
    this.#front.answer(req.conn, Buffer.from(rawErrorResponse(err, STATUS_CODES[err.status] ?? '')), true)
  }

  // Authority → service → route, then the pick (now, or once an endpoint is ready).
  #onHead (conn: number, head: HttpFrontHead): void {
    const req = new NativeRequest(conn, head)
    this.#deciding.set(conn, req)
    if (head.upgrade || head.method === 'CONNECT') return this.#handBack(req, 'upgrade')
    if (head.expectContinue) return this.#handBack(req, 'expect_continue')
    const ctx = this.#ctx
    try {
      const authority = headerValue(req.headers, 'host')
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
    const headers = endToEndHeaders(req.headers, MESH_HEADERS)
    headers[WIRE_HEADERS.target] = endpoint.target
    headers[REQUEST_ID_HEADER] = req.requestId
    headers[WIRE_HEADERS.origProto] = 'HTTP/1.1'
    req.wire = { method: req.head.method, authority: req.authority, path: req.head.target, scheme: 'http', headers }
    try {
      const session = readySessionFor(this.#ctx, endpoint)
      if (session !== undefined) {
        this.#send(req, session)
        return
      }
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
    req.token = this.#nextToken++
    if (this.#nextToken > 0x7fffffff) this.#nextToken = 1
    const requestMs = requestTimeoutMs(req.route?.requestMs ?? ctx.timeouts.requestMs, req.headers['grpc-timeout'])
    const result = this.#front.forward(req.conn, session, req.wire as RequestHead, { requestMs, idleMs: ctx.timeouts.idleMs, token: req.token })
    if (result === 'sent') {
      this.#deciding.delete(req.conn)
      this.#forwarded.set(req.token, req)
      ctx.inflight.enter()
      this.#options.observer?.request('native', 'plain')
      return
    }
    // Nothing was sent: the pick says nothing about the endpoint.
    pick.done({ ok: true, latencyMs: performance.now() - req.started })
    if (result === 'not-native') this.#handBack(req, 'session_kind')
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
    const req = this.#forwarded.get(record.token)
    if (req === undefined) return
    this.#forwarded.delete(record.token)
    const ctx = this.#ctx
    ctx.inflight.leave()
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
      protocol: 'http1',
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
