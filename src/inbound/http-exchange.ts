/**
 * One inbound HTTP request, the steps the inbound role names: authorize (target configured? caller
 * allowed?) → rewrite the mesh headers → deliver over HTTP/1 or h2c → answer, reporting the
 * exchange at its response head and at the end of its body. Any failure is answered by
 * `exchange.reject()` with its code.
 *
 * One object per request, and the body's listeners are module-level functions that find it
 * through a symbol: no closures per request on this path (they were a good part of its cost).
 */
import type { Logger } from 'pino'
import { toMeshError, type MeshError } from '../../core/errors.js'
import { countBodyBytes, type ByteCount } from '../http/body-bytes.js'
import { endToEndHeaders, headerValue, REQUEST_ID_HEADER } from '../http/headers.js'
import type { Telemetry } from '../telemetry.js'
import { WIRE_HEADERS, type InboundExchange } from '../../transports/contract.js'
import type { H2cUpstream } from './h2c-upstream.js'
import type { Delivery, DeliveryTarget, Http1Upstream, UpstreamResponse } from './http1-upstream.js'
import type { RateLimiter } from './rate-limit.js'
import { deliveryProtocol, type TargetTable } from './targets.js'
import type { PluginChain } from '../plugins/plugin-chain.js'
import type { PluginStream } from '../plugins/plugin-stream.js'
import { pluginLog, pluginRequestHead, pluginResponse, type PluginExchange } from './plugin-steps.js'

/** Mesh headers the inbound side consumes or sets itself. */
export const CONSUMED: ReadonlySet<string> = new Set([WIRE_HEADERS.target, WIRE_HEADERS.origProto, WIRE_HEADERS.clientId])

const kRequest = Symbol('meshgate.inbound.request')
const NO_BYTES: ByteCount = Object.freeze({ count: 0 })
/** Statuses whose response carries no content (RFC 9110 §6.4.1). */
const NO_CONTENT: ReadonlySet<number> = new Set([204, 205, 304])

type UpstreamBody = UpstreamResponse['body'] & { [kRequest]?: InboundHttpExchange }

/** What every inbound exchange of a role shares. */
export interface InboundHttpContext {
  targets: TargetTable
  /** Local rate limiting (absent: none); replaced whole on a reload. */
  rateLimiter?: RateLimiter
  http1: Http1Upstream
  h2c: H2cUpstream
  telemetry: Telemetry
  logger: Logger
  /** `inbound.plugins` (absent: none, and no plugin step is taken). */
  plugins?: PluginChain
  /** This workload's identity, for the plugins. */
  identity?: string
}

/** Handles one inbound request; never throws (failures are answered with their code). */
export function handleInboundRequest (ctx: InboundHttpContext, exchange: InboundExchange, transport: string): void {
  new InboundHttpExchange(ctx, exchange, transport).deliver()
}

class InboundHttpExchange implements DeliveryTarget, PluginExchange {
  readonly ctx: InboundHttpContext
  readonly exchange: InboundExchange
  readonly transport: string
  readonly started: number
  readonly requestBytes: ByteCount
  status = 0
  responseBytes = 0
  ended = false
  plugins: PluginStream | undefined = undefined

  constructor (ctx: InboundHttpContext, exchange: InboundExchange, transport: string) {
    this.ctx = ctx
    this.exchange = exchange
    this.transport = transport
    this.started = performance.now()
    this.requestBytes = exchange.hasBody ? countBodyBytes(exchange.body) : NO_BYTES
  }

  deliver (): void {
    try {
      const { ctx, exchange } = this
      const requestHeaders = exchange.head.headers
      const target = ctx.targets.authorize(headerValue(requestHeaders, WIRE_HEADERS.target), exchange.caller, 'http')
      ctx.rateLimiter?.admit(exchange.caller)
      const headers = endToEndHeaders(requestHeaders, CONSUMED)
      headers[WIRE_HEADERS.clientId] = exchange.caller
      const protocol = deliveryProtocol(target, headerValue(requestHeaders, WIRE_HEADERS.origProto))
      if (ctx.plugins !== undefined) {
        pluginRequestHead(ctx.plugins, ctx.identity ?? '', this, target.address, headers, (h, request) => {
          h[WIRE_HEADERS.clientId] = exchange.caller
          this.deliverTo(protocol, target.address, h, request)
        })
        return
      }
      this.deliverTo(protocol, target.address, headers)
    } catch (err) {
      this.refuse(err)
    }
  }

  /** Delivers `request` (the exchange itself, or what the plugins made of it). */
  deliverTo (protocol: 'http1' | 'http2', address: string, headers: ReturnType<typeof endToEndHeaders>, request: Delivery = this.exchange): void {
    try {
      const { ctx } = this
      // Callbacks, not a promise: see DeliveryTarget.
      if (protocol === 'http1') ctx.http1.deliver(request, address, headers, this)
      else ctx.h2c.deliver(request, address, headers, this)
    } catch (err) {
      this.refuse(err)
    }
  }

  /** The workload's response head is here: report it and answer with it. */
  delivered (response: UpstreamResponse): void {
    if (this.plugins !== undefined) {
      pluginResponse(this, response, (r) => { this.answer(r) })
      return
    }
    this.answer(response)
  }

  answer (response: UpstreamResponse): void {
    try {
      const status = response.head.status
      this.status = status
      this.report(status)
      const body: UpstreamBody = response.body
      body[kRequest] = this
      body.on('data', onUpstreamData)
      // Errors are read from `errored` at 'close'; a listener keeps them from being uncaught.
      body.on('error', onUpstreamError)
      body.once('close', onUpstreamClose)
      this.exchange.respond(response.head, body, response.trailers)
    } catch (err) {
      this.refuse(err)
    }
  }

  failed (err: MeshError): void {
    this.refuse(err)
  }

  /** No response head: answer with the error. */
  refuse (err: unknown): void {
    const meshErr = toMeshError(err)
    const { exchange } = this
    this.ctx.logger.warn({ code: meshErr.code, err: meshErr.message, requestId: headerValue(exchange.head.headers, REQUEST_ID_HEADER), caller: exchange.caller, authority: exchange.head.authority }, 'inbound request refused')
    this.report(meshErr.status, meshErr.code)
    if (this.plugins !== undefined) pluginLog(this)
    exchange.reject(meshErr)
  }

  report (status: number, errorCode?: string): void {
    const { exchange } = this
    const headers = exchange.head.headers
    this.ctx.telemetry.request({
      direction: 'inbound',
      protocol: headerValue(headers, WIRE_HEADERS.origProto) === undefined ? 'http2' : 'http1',
      authority: exchange.head.authority,
      method: exchange.head.method,
      path: exchange.head.path,
      identity: exchange.caller,
      peerIdentity: '',
      transport: this.transport,
      status,
      errorCode,
      durationSeconds: (performance.now() - this.started) / 1000,
      requestId: headerValue(headers, REQUEST_ID_HEADER) ?? '',
    })
  }

  /** The upstream's body is done: whole, or failed (`err`). */
  end (err: Error | null | undefined): void {
    if (this.ended) return
    this.ended = true
    if (this.plugins !== undefined) pluginLog(this)
    const { exchange } = this
    this.ctx.telemetry.requestEnd({
      direction: 'inbound',
      authority: exchange.head.authority,
      status: this.status,
      requestBytes: this.requestBytes.count,
      responseBytes: this.responseBytes,
      totalSeconds: (performance.now() - this.started) / 1000,
      identity: exchange.caller,
      peerIdentity: '',
      transport: this.transport,
      errorCode: err === undefined || err === null ? undefined : toMeshError(err, 'E_UPSTREAM_RESET').code,
    })
  }
}

function onUpstreamData (this: UpstreamBody, chunk: Buffer): void {
  const request = this[kRequest]
  if (request !== undefined) request.responseBytes += chunk.length
}

function onUpstreamError (): void {}

function onUpstreamClose (this: UpstreamBody): void {
  const request = this[kRequest]
  if (request === undefined) return
  // Closed after its end: whole; so is a body the answer may not carry (respond() drops it).
  // Closed without either: failed, with its error or as a premature close.
  const whole = this.readableEnded || NO_CONTENT.has(request.status) || request.exchange.head.method === 'HEAD'
  request.end(whole ? undefined : (this.errored ?? new Error('Premature close')))
}
