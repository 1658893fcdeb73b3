// The server side of one stream: an InboundExchange for a request, an InboundTunnel for a CONNECT.
import { constants, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2'
import type { Duplex, Readable } from 'node:stream'
import { ERROR_HEADER, MeshError } from '../../core/errors.js'
import type {
  HeaderMap, InboundExchange, InboundTunnel, RequestHead, ResponseHead, TransportLogger, TransportObserver,
} from '../contract.js'
import { LightAbortSignal } from '../abort-signal.js'
import { cancelStream, guardDuplex, guardReadable, type Cancel, type ResetErrors } from './peer-stream.js'
import { responseHeaders, stripHopByHop, toRequestHead, trailerHeaders } from './headers.js'
import type { PeerCaller } from './tls.js'

const { NGHTTP2_NO_ERROR, HTTP2_HEADER_STATUS } = constants

/** Statuses whose response carries no content (RFC 9110 §6.4.1). */
const NO_CONTENT = new Set([204, 205, 304])

const kInbound = Symbol('meshgate.h2.inbound')

type InboundHttp2Stream = ServerHttp2Stream & { [kInbound]?: InboundStream }

/**
 * State shared by both kinds of inbound stream. The stream's listeners are module-level functions
 * that find it through a symbol, and the reset errors are built on first use: one object per
 * stream, not a closure per listener (this runs for every proxied request).
 */
abstract class InboundStream {
  readonly caller: string
  readonly callerCertificates: readonly Buffer[]
  readonly head: RequestHead
  protected readonly stream: ServerHttp2Stream
  /** The listener's logger; log lines name the caller (no child logger per stream). */
  protected readonly logger: TransportLogger
  readonly #observer: TransportObserver | undefined
  #resetErrors: ResetErrors | undefined

  constructor (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, caller: PeerCaller, logger: TransportLogger, observer: TransportObserver | undefined) {
    this.stream = stream
    this.caller = caller.identity
    this.callerCertificates = caller.certificates
    this.head = toRequestHead(headers)
    this.logger = logger
    this.#observer = observer
    this.#resetErrors = undefined
    const tracked = stream as InboundHttp2Stream
    tracked[kInbound] = this
    observer?.streamOpened?.('h2', 'server')
    stream.on('error', onInboundStreamError)
    stream.once('close', onInboundStreamClose)
  }

  /** Aborts the exchange's signal (the stream closed before our side finished). */
  protected abstract abortWith (err: MeshError): void

  /** How the guards name a reset of this stream. */
  protected get resetErrors (): ResetErrors {
    const { caller, stream } = this
    this.#resetErrors ??= {
      reset: (cause) => new MeshError('E_PEER_RESET', `stream from ${caller} failed: ${cause?.message ?? `reset (RST_STREAM code ${stream.rstCode ?? 'none'})`}`, { cause }),
    }
    return this.#resetErrors
  }

  /** Resets the stream with RST_STREAM(CANCEL), nothing before it (a closure: tunnels only). */
  protected get cancel (): Cancel {
    return (reason) => { cancelStream(this.stream, reason) }
  }

  /** @internal The stream closed. */
  onStreamClose (): void {
    const { stream } = this
    this.#observer?.streamClosed?.('h2', 'server')
    // Reset by the peer, by the session dying, or closed before our side finished: abort.
    if (stream.rstCode !== NGHTTP2_NO_ERROR || !stream.writableFinished) {
      this.abortWith(new MeshError('E_PEER_RESET', `stream from ${this.caller} closed early (RST_STREAM code ${stream.rstCode ?? 'none'})`))
    }
  }

  /** @internal The stream failed; the guards and the signal tell the handler. */
  onStreamError (err: Error): void {
    this.logger.debug({ err, caller: this.caller }, 'h2 stream error')
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

function onInboundStreamClose (this: InboundHttp2Stream): void {
  this[kInbound]?.onStreamClose()
}

function onInboundStreamError (this: InboundHttp2Stream, err: Error): void {
  this[kInbound]?.onStreamError(err)
}

/** One inbound HTTP request; the body is the h2 stream's readable side. */
export class H2InboundExchange extends InboundStream implements InboundExchange {
  readonly signal = new LightAbortSignal()
  #body: Readable | undefined
  #responseBody: ResponseBody | undefined
  #trailers: (() => HeaderMap | undefined) | undefined
  #waitingForDrain = false

  protected abortWith (err: MeshError): void {
    this.signal.abort(err)
  }

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
      this.#trailers = trailers
      stream.once('wantTrailers', onWantTrailers)
    }
    if (body === null || noContent) {
      body?.destroy()
      if (waitForTrailers) stream.end()
      return
    }
    // pipe() by hand, with shared listeners: backpressure as pipe() does it (the body pauses while
    // the stream's send window is full), END_STREAM at its end, a reset if it fails.
    const tagged = body as ResponseBody
    tagged[kInbound] = this
    this.#responseBody = tagged
    tagged.on('data', onResponseData)
    tagged.once('end', onResponseEnd)
    tagged.once('error', onResponseError)
  }

  /** @internal The stream closed: a response body still flowing is of no use any more. */
  override onStreamClose (): void {
    super.onStreamClose()
    const body = this.#responseBody
    if (body !== undefined && !body.readableEnded) body.destroy()
  }

  /** @internal Sends the trailers (RFC 9113 §8.1: a HEADERS frame with END_STREAM after the last DATA). */
  sendTrailers (): void {
    let fields: HeaderMap | undefined
    try {
      fields = this.#trailers?.()
    } catch (err) {
      this.logger.warn({ err, caller: this.caller }, 'trailers() threw; sending none')
    }
    this.stream.sendTrailers(trailerHeaders(fields))
  }

  /** @internal A chunk of the response body. */
  writeResponseChunk (chunk: Buffer): void {
    const { stream } = this
    if (stream.destroyed) return
    if (!stream.write(chunk) && !this.#waitingForDrain) {
      this.#waitingForDrain = true
      this.#responseBody?.pause()
      stream.once('drain', onStreamDrain)
    }
  }

  /** @internal The stream's send window opened again. */
  responseDrained (): void {
    this.#waitingForDrain = false
    this.#responseBody?.resume()
  }

  /** @internal The response body ended. */
  endResponse (): void {
    if (!this.stream.destroyed) this.stream.end()
  }

  /** @internal The response body failed. */
  responseFailed (err: Error): void {
    this.logger.debug({ err, caller: this.caller }, 'response body failed; resetting the stream')
    // RST_STREAM(INTERNAL_ERROR), never END_STREAM: the client must not take a cut body for whole.
    this.stream.destroy(err)
  }
}

type ResponseBody = Readable & { [kInbound]?: H2InboundExchange }
type ExchangeStream = ServerHttp2Stream & { [kInbound]?: H2InboundExchange }

function onWantTrailers (this: ExchangeStream): void {
  this[kInbound]?.sendTrailers()
}

function onStreamDrain (this: ExchangeStream): void {
  this[kInbound]?.responseDrained()
}

function onResponseData (this: ResponseBody, chunk: Buffer): void {
  this[kInbound]?.writeResponseChunk(chunk)
}

function onResponseEnd (this: ResponseBody): void {
  this[kInbound]?.endResponse()
}

function onResponseError (this: ResponseBody, err: Error): void {
  this[kInbound]?.responseFailed(err)
}

/** One inbound CONNECT (RFC 9113 §8.5) or extended CONNECT (RFC 8441 §4). */
export class H2InboundTunnel extends InboundStream implements InboundTunnel {
  // A real AbortSignal: tunnels are few, and their handlers hand it to APIs that want one.
  readonly #controller = new AbortController()
  readonly signal: AbortSignal = this.#controller.signal

  protected abortWith (err: MeshError): void {
    this.#controller.abort(err)
  }

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
