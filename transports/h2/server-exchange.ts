// The server side of one stream: an InboundExchange for a request, an InboundTunnel for a CONNECT.
import { constants, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2'
import type { Duplex, Readable } from 'node:stream'
import { ERROR_HEADER, MeshError } from '../../src/errors.js'
import type {
  HeaderMap, InboundExchange, InboundTunnel, RequestHead, ResponseHead, TransportLogger,
} from '../contract.js'
import { cancellable, guardDuplex, guardReadable, type Cancel, type ResetErrors } from './peer-stream.js'
import { responseHeaders, stripHopByHop, toRequestHead, trailerHeaders } from './headers.js'

const { NGHTTP2_NO_ERROR, HTTP2_HEADER_STATUS } = constants

/** Statuses whose response carries no content (RFC 9110 §6.4.1). */
const NO_CONTENT = new Set([204, 205, 304])

/** State shared by both kinds of inbound stream. */
abstract class InboundStream {
  readonly caller: string
  readonly head: RequestHead
  readonly signal: AbortSignal
  protected readonly stream: ServerHttp2Stream
  protected readonly logger: TransportLogger
  protected readonly cancel: Cancel
  protected readonly resetErrors: ResetErrors

  constructor (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, caller: string, logger: TransportLogger) {
    this.stream = stream
    this.caller = caller
    this.head = toRequestHead(headers)
    this.logger = logger
    this.cancel = cancellable(stream)
    this.resetErrors = {
      reset: (cause) => new MeshError('E_PEER_RESET', `stream from ${caller} failed: ${cause?.message ?? `reset (RST_STREAM code ${stream.rstCode ?? 'none'})`}`, { cause }),
    }
    const controller = new AbortController()
    this.signal = controller.signal
    stream.once('close', () => {
      // Reset by the peer, by the session dying, or closed before our side finished: abort.
      if (stream.rstCode !== NGHTTP2_NO_ERROR || !stream.writableFinished) {
        controller.abort(new MeshError('E_PEER_RESET', `stream from ${caller} closed early (RST_STREAM code ${stream.rstCode ?? 'none'})`))
      }
    })
  }

  /** Answers with the error's status, the `meshgate-error` header and the message as text. */
  reject (err: MeshError): void {
    const { stream } = this
    if (stream.destroyed || stream.closed) return
    if (stream.headersSent) {
      // Too late for a status: reset (destroy sends RST_STREAM without flushing END_STREAM first).
      stream.destroy(err)
      return
    }
    const headOnly = this.head.method === 'HEAD'
    stream.respond({
      [HTTP2_HEADER_STATUS]: err.status,
      [ERROR_HEADER]: err.code,
      'content-type': 'text/plain; charset=utf-8',
    }, { endStream: headOnly })
    if (!headOnly) stream.end(`${err.message}\n`)
  }
}

/** One inbound HTTP request; the body is the h2 stream's readable side. */
export class H2InboundExchange extends InboundStream implements InboundExchange {
  #body: Readable | undefined

  /**
   * The request body; a reset by the caller is an E_PEER_RESET error here, never a clean end.
   * Destroying it does not reset the stream: reject() or respond() still answer. Built on first
   * use: most requests (GET) carry none, and the wrapper is a Readable plus three listeners.
   */
  get body (): Readable {
    // Abandoning the body drains the rest of it: a reset here would also kill the answer.
    this.#body ??= guardReadable(this.stream, () => {}, this.resetErrors)
    return this.#body
  }

  /** False when END_STREAM came on the request's HEADERS frame (RFC 9113 §8.1). */
  get hasBody (): boolean {
    return !this.stream.endAfterHeaders
  }

  /**
   * Sends the head, pipes `body` (pausing it while the send window is full), then sends
   * `trailers()` once the body has ended; empty trailers when the callback returns none.
   */
  respond (head: ResponseHead, body: Readable | null, trailers?: () => HeaderMap | undefined): void {
    const { stream } = this
    if (stream.destroyed || stream.closed) {
      body?.destroy()
      return
    }
    if (stream.headersSent) throw new MeshError('E_INTERNAL', 'respond() called twice on one exchange')
    const noContent = NO_CONTENT.has(head.status) || this.head.method === 'HEAD'
    const waitForTrailers = trailers !== undefined && !noContent
    try {
      stream.respond(responseHeaders(head), { endStream: noContent || (body === null && !waitForTrailers), waitForTrailers })
    } catch (err) {
      // node refuses invalid field names or values before anything is sent: answer with an error instead.
      body?.destroy()
      this.reject(new MeshError('E_INTERNAL', `invalid response head: ${(err as Error).message}`, { cause: err }))
      return
    }
    if (waitForTrailers) {
      // RFC 9113 §8.1: trailers are a HEADERS frame with END_STREAM after the last DATA.
      stream.once('wantTrailers', () => {
        let fields: HeaderMap | undefined
        try {
          fields = trailers()
        } catch (err) {
          this.logger.warn({ err }, 'trailers() threw; sending none')
        }
        stream.sendTrailers(trailerHeaders(fields))
      })
    }
    if (body === null || noContent) {
      body?.destroy()
      if (waitForTrailers) stream.end()
      return
    }
    body.once('error', (err) => {
      this.logger.debug({ err, caller: this.caller }, 'response body failed; resetting the stream')
      // RST_STREAM(INTERNAL_ERROR), never END_STREAM: the client must not take a cut body for whole.
      stream.destroy(err)
    })
    stream.once('close', () => { if (!body.readableEnded) body.destroy() })
    body.pipe(stream)
  }
}

/** One inbound CONNECT (RFC 9113 §8.5) or extended CONNECT (RFC 8441 §4). */
export class H2InboundTunnel extends InboundStream implements InboundTunnel {
  /** Answers 200 and hands over the stream; END_STREAM maps to 'end' and end() sends it. */
  accept (headers: HeaderMap = {}): Duplex {
    const { stream } = this
    if (stream.headersSent) throw new MeshError('E_INTERNAL', 'accept() called twice on one tunnel')
    if (!stream.destroyed && !stream.closed) {
      try {
        stream.respond({ ...stripHopByHop(headers), [HTTP2_HEADER_STATUS]: 200 })
      } catch (err) {
        const meshErr = new MeshError('E_INTERNAL', `invalid tunnel response head: ${(err as Error).message}`, { cause: err })
        this.reject(meshErr)
        throw meshErr
      }
    }
    return guardDuplex(stream, this.cancel, this.resetErrors)
  }
}
