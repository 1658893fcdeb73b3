// The server side of one HTTP/3 stream: an InboundExchange for a request, an InboundTunnel for a CONNECT.
import type { Socket } from 'node:net'
import type { Duplex, Readable } from 'node:stream'
import { H3_CODES, type QuicHeaders, type QuicStream } from '../../native/quic.js'
import { ERROR_HEADER, MeshError } from '../../core/errors.js'
import type {
  HeaderMap, InboundExchange, InboundTunnel, RequestHead, ResponseHead, SplicedTunnelResult, TransportLogger,
} from '../contract.js'
import { endToEnd, responseFields, toRequestHead } from './headers.js'
import { guardDuplex, guardReadable, resetStream, type ResetErrors } from './peer-stream.js'
import { acceptSplicedSocket, spliceToTarget } from './spliced-tunnel.js'

/** Statuses whose response carries no content (RFC 9110 §6.4.1). */
const NO_CONTENT = new Set([204, 205, 304])

/** State shared by both kinds of inbound stream. */
abstract class InboundStream {
  readonly caller: string
  readonly callerCertificates: readonly Buffer[]
  readonly head: RequestHead
  readonly signal: AbortSignal
  protected readonly stream: QuicStream
  protected readonly logger: TransportLogger
  protected readonly resetErrors: ResetErrors
  protected responded = false

  constructor (stream: QuicStream, fields: QuicHeaders, caller: string, logger: TransportLogger) {
    this.stream = stream
    this.caller = caller
    this.callerCertificates = stream.session.peerCertificates
    this.head = toRequestHead(fields)
    this.logger = logger
    this.resetErrors = {
      reset: (cause) => new MeshError('E_PEER_RESET', `stream from ${caller} failed: ${cause?.message ?? 'reset by the caller (RESET_STREAM)'}`, { cause }),
    }
    const controller = new AbortController()
    this.signal = controller.signal
    stream.on('error', () => {}) // surfaced through the guards and the signal
    stream.once('close', () => {
      // Reset by the caller, by the session dying, or closed before our side finished: abort.
      if (stream.errored !== null || !stream.writableFinished) {
        controller.abort(new MeshError('E_PEER_RESET', `stream from ${caller} closed early: ${stream.errored?.message ?? 'reset'}`))
      }
    })
  }

  /** Answers with the error's status, the `meshgate-error` header and the message as text. */
  reject (err: MeshError): void {
    const { stream } = this
    if (stream.destroyed || stream.writableEnded) return
    if (this.responded) {
      // Too late for a status: RESET_STREAM, so the caller cannot take a cut body for a whole one.
      resetStream(stream, H3_CODES.internalError)
      return
    }
    this.responded = true
    const headOnly = this.head.method === 'HEAD'
    stream.respond({
      ':status': String(err.status),
      [ERROR_HEADER]: err.code,
      'content-type': 'text/plain; charset=utf-8',
    }, { endStream: headOnly })
    if (!headOnly) stream.end(`${err.message}\n`)
    // Whatever request body is still coming is not wanted; read it off so the stream completes.
    stream.resume()
  }
}

/** One inbound HTTP request; the body is the QUIC stream's readable side. */
export class H3InboundExchange extends InboundStream implements InboundExchange {
  /** The request body; a reset by the caller is an E_PEER_RESET error here, never a clean end. */
  readonly body: Readable

  constructor (stream: QuicStream, fields: QuicHeaders, caller: string, logger: TransportLogger) {
    super(stream, fields, caller, logger)
    this.body = guardReadable(stream, this.resetErrors, 'drain')
  }

  /** False when the request's HEADERS frame ended the stream (RFC 9114 §4.1): no body follows. */
  get hasBody (): boolean {
    return !this.stream.endAfterHeaders
  }

  /**
   * Sends the head, pipes `body` (pausing it while the stream is over its high-water mark), then
   * sends `trailers()` once the body has ended (RFC 9114 §4.1: a trailing HEADERS frame).
   */
  respond (head: ResponseHead, body: Readable | null, trailers?: () => HeaderMap | undefined): void {
    const { stream } = this
    if (stream.destroyed || stream.writableEnded) {
      body?.destroy()
      return
    }
    if (this.responded) throw new MeshError('E_INTERNAL', 'respond() called twice on one exchange')
    this.responded = true
    const noContent = NO_CONTENT.has(head.status) || this.head.method === 'HEAD'
    const withTrailers = trailers !== undefined && !noContent
    try {
      stream.respond(responseFields(head), { endStream: noContent || (body === null && !withTrailers) })
    } catch (err) {
      body?.destroy()
      this.responded = false
      this.reject(new MeshError('E_INTERNAL', `invalid response head: ${(err as Error).message}`, { cause: err }))
      return
    }
    const finish = (): void => {
      if (withTrailers) {
        let fields: HeaderMap | undefined
        try {
          fields = trailers()
        } catch (err) {
          this.logger.warn({ err }, 'trailers() threw; sending none')
        }
        const out = endToEnd(fields)
        if (Object.keys(out).length > 0) stream.setTrailers(out)
      }
      if (!stream.destroyed) stream.end()
    }
    if (body === null || noContent) {
      body?.destroy()
      if (withTrailers) finish()
      return
    }
    body.once('error', (err) => {
      this.logger.debug({ err, caller: this.caller }, 'response body failed; resetting the stream')
      // RESET_STREAM(H3_INTERNAL_ERROR), never FIN: the caller must not take a cut body for whole.
      resetStream(stream, H3_CODES.internalError)
    })
    body.once('end', finish)
    stream.once('close', () => { if (!body.readableEnded) body.destroy() })
    body.pipe(stream, { end: false })
  }
}

/** One inbound CONNECT (RFC 9114 §4.4) or extended CONNECT (RFC 9220 §3). */
export class H3InboundTunnel extends InboundStream implements InboundTunnel {
  /** Present when the binding splices sockets natively (the h2 engine, the QUIC addon) and splicing is on. */
  readonly spliceTo: ((host: string, port: number, connectMs: number, idleMs: number) => Promise<SplicedTunnelResult>) | undefined
  /** Present when the binding splices sockets natively and splicing is on. */
  readonly acceptSpliced: ((headers: HeaderMap, socket: Socket, toPeer: Buffer, idleMs: number) => Promise<SplicedTunnelResult>) | undefined

  /** `splice`: whether tunnel bytes may move natively (false: through JS, the reference path). */
  constructor (stream: QuicStream, fields: QuicHeaders, caller: string, logger: TransportLogger, splice: boolean = true) {
    super(stream, fields, caller, logger)
    const endpoint = stream.session.endpoint
    this.spliceTo = !splice || endpoint.spliceConnect === undefined
      ? undefined
      : async (host, port, connectMs, idleMs) => {
        if (this.responded) throw new MeshError('E_INTERNAL', 'spliceTo() after the tunnel was answered')
        this.responded = true
        try {
          return await spliceToTarget(this.stream, this.head.authority, host, port, connectMs, idleMs)
        } catch (err) {
          this.responded = false
          throw err
        }
      }
    this.acceptSpliced = !splice || endpoint.spliceFd === undefined
      ? undefined
      : async (headers, socket, toPeer, idleMs) => {
        if (this.responded) throw new MeshError('E_INTERNAL', 'acceptSpliced() after the tunnel was answered')
        this.responded = true
        return await acceptSplicedSocket(this.stream, this.head.authority, endToEnd(headers), socket, toPeer, idleMs)
      }
  }

  /** Answers 200 and hands over the stream; the caller's FIN is 'end' and end() sends ours. */
  accept (headers: HeaderMap = {}): Duplex {
    const { stream } = this
    if (this.responded) throw new MeshError('E_INTERNAL', 'accept() called twice on one tunnel')
    this.responded = true
    if (!stream.destroyed) {
      try {
        stream.respond({ ...endToEnd(headers), ':status': '200' })
      } catch (err) {
        const meshErr = new MeshError('E_INTERNAL', `invalid tunnel response head: ${(err as Error).message}`, { cause: err })
        this.responded = false
        this.reject(meshErr)
        throw meshErr
      }
    }
    return guardDuplex(stream, this.resetErrors)
  }
}
