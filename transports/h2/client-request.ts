// One request on a client session: the stream, its response head, its body and trailers.
//
// Why one object and module-level listeners: this runs once per proxied request, and the shape it
// replaces (closures per listener, a guard Readable built from closures, an async wrapper per
// layer) cost more per request than node's own stream. The listeners are the same functions for
// every stream and find their request through a symbol on the stream.
import type { ClientHttp2Session, ClientHttp2Stream, IncomingHttpHeaders } from 'node:http2'
import { Readable } from 'node:stream'
import { MeshError } from '../../core/errors.js'
import type { AbortSignalLike, HeaderMap, PeerResponse, RequestHead, ResponseHead, ResponseTarget, StreamOptions } from '../contract.js'
import { abortReason } from '../stream-errors.js'
import { openRawStream, resetError, type StreamCounter } from './client-stream.js'
import { toHeaderMap, toResponseHead } from './headers.js'
import { cancelStream, wasReset } from './peer-stream.js'

const kRequest = Symbol('meshgate.h2.request')

type TrackedStream = ClientHttp2Stream & { [kRequest]?: ClientRequest }

/**
 * Sends a request (not CONNECT); resolves on the response head, the body streaming behind it.
 * The body ends only on a real END_STREAM; a reset (RST_STREAM, even CANCEL, which node ends
 * like END_STREAM) is an E_PEER_RESET error on it.
 */
export function sendRequest (
  session: ClientHttp2Session,
  head: RequestHead,
  body: Readable | null,
  options: StreamOptions,
  counter: StreamCounter
): Promise<PeerResponse> {
  return new Promise<PeerResponse>((resolve, reject) => {
    sendRequestTo(session, head, body, options, counter, { response: resolve, failed: reject })
  })
}

/** sendRequest() reporting to `to` (PeerSession.requestTo): never synchronously, exactly once. */
export function sendRequestTo (
  session: ClientHttp2Session,
  head: RequestHead,
  body: Readable | null,
  options: StreamOptions,
  counter: StreamCounter,
  to: ResponseTarget
): void {
  if (head.method.toUpperCase() === 'CONNECT') {
    failSoon(to, new MeshError('E_BAD_REQUEST', 'CONNECT goes through tunnel(), not request()'))
    return
  }
  const { signal } = options
  if (signal?.aborted === true) {
    failSoon(to, abortReason(signal))
    return
  }
  let stream
  try {
    stream = openRawStream(session, head, body === null)
  } catch (err) {
    failSoon(to, err as Error)
    return
  }
  new ClientRequest(stream, head.authority, body, signal, counter, to).start()
}

/** Reports a failure on the next microtask, as a rejected promise would. */
export function failSoon (to: ResponseTarget, err: Error): void {
  queueMicrotask(() => to.failed(err))
}

/** The state of one request; `response` is set once its head arrived. */
class ClientRequest {
  readonly stream: TrackedStream
  readonly authority: string
  readonly requestBody: Readable | null
  readonly signal: AbortSignalLike | undefined
  readonly counter: StreamCounter
  /** Until the head came or the request failed. */
  to: ResponseTarget | undefined
  response: H2Response | undefined
  trailers: HeaderMap | undefined

  constructor (stream: ClientHttp2Stream, authority: string, requestBody: Readable | null, signal: AbortSignalLike | undefined,
    counter: StreamCounter, to: ResponseTarget) {
    this.stream = stream
    this.authority = authority
    this.requestBody = requestBody
    this.signal = signal
    this.counter = counter
    this.to = to
    this.response = undefined
    this.trailers = undefined
  }

  start (): void {
    const { stream, signal, requestBody } = this
    stream[kRequest] = this
    this.counter.opened()
    // The request itself listens (handleEvent): no closure per request.
    signal?.addEventListener('abort', this, { once: true })
    stream.once('response', onResponse)
    stream.once('trailers', onTrailers)
    stream.on('error', onStreamError)
    stream.once('close', onStreamClose)
    if (requestBody !== null) {
      requestBody.once('error', (err) => {
        this.cancel(err)
        this.fail(new MeshError('E_PEER_RESET', `request body to ${this.authority} failed: ${err.message}`, { cause: err }))
      })
      requestBody.pipe(stream) // backpressure: pipe pauses the body while the stream's send window is full
    }
  }

  /** Resets the stream with RST_STREAM(CANCEL), nothing before it. */
  cancel (reason?: Error): void {
    cancelStream(this.stream, reason)
  }

  /** Reports a failure, if nothing was reported yet. */
  fail (err: Error): void {
    const to = this.to
    if (to === undefined) return
    this.to = undefined
    to.failed(err)
  }

  /** The signal aborted. */
  handleEvent (): void {
    const reason = abortReason(this.signal)
    if (this.response === undefined) this.fail(reason)
    else this.response.body.destroy(reason)
    this.cancel(reason)
  }
}

function onResponse (this: TrackedStream, headers: IncomingHttpHeaders): void {
  const request = this[kRequest]
  const to = request?.to
  if (request === undefined || to === undefined) return
  const response = new H2Response(toResponseHead(headers), new ResponseBody(request), request)
  request.response = response
  request.to = undefined
  to.response(response)
}

function onTrailers (this: TrackedStream, headers: IncomingHttpHeaders): void {
  const request = this[kRequest]
  if (request !== undefined) request.trailers = toHeaderMap(headers)
}

function onStreamError (this: TrackedStream, err: Error): void {
  const request = this[kRequest]
  if (request === undefined) return
  if (request.response === undefined) request.fail(resetError(this, request.authority, err))
  else request.response.body.fail(err instanceof MeshError ? err : resetError(this, request.authority, err))
}

function onStreamClose (this: TrackedStream): void {
  const request = this[kRequest]
  if (request === undefined) return
  request.counter.closed()
  request.signal?.removeEventListener('abort', request)
  const { requestBody } = request
  if (requestBody !== null && !requestBody.readableEnded) requestBody.destroy()
  if (request.response === undefined) request.fail(resetError(this, request.authority))
  else if (!request.response.body.complete) request.response.body.fail(resetError(this, request.authority))
}

function onData (this: TrackedStream, chunk: Buffer): void {
  const body = this[kRequest]?.response?.body
  if (body !== undefined && !body.abandoned && !body.push(chunk)) this.pause()
}

function onEnd (this: TrackedStream): void {
  const request = this[kRequest]
  const body = request?.response?.body
  if (request === undefined || body === undefined) return
  if (wasReset(this)) {
    body.fail(resetError(this, request.authority))
    return
  }
  body.complete = true
  body.push(null)
}

/** The response: a class rather than an object literal with a closure for `trailers`. */
class H2Response implements PeerResponse {
  readonly head: ResponseHead
  readonly body: ResponseBody
  readonly #request: ClientRequest

  constructor (head: ResponseHead, body: ResponseBody, request: ClientRequest) {
    this.head = head
    this.body = body
    this.#request = request
  }

  trailers (): HeaderMap | undefined {
    return this.#request.trailers
  }
}

/**
 * The response body: the stream's readable side as its own Readable, which ends only on a real
 * END_STREAM. Reading starts lazily; flow control holds because the h2 stream is paused whenever
 * this buffer is full. Destroying it early resets the stream and drops whatever still arrives
 * (never pausing the h2 stream, so the peer cannot stall on a full window).
 */
class ResponseBody extends Readable {
  readonly #request: ClientRequest
  #flowing = false
  /** END_STREAM came (and no reset): the body is whole. */
  complete = false
  /** Destroyed before the end: what still arrives is dropped. */
  abandoned = false

  constructor (request: ClientRequest) {
    super()
    this.#request = request
    request.stream.once('end', onEnd)
  }

  #startFlowing (): void {
    if (this.#flowing) return
    this.#flowing = true
    this.#request.stream.on('data', onData)
  }

  override _read (): void {
    this.#startFlowing()
    this.#request.stream.resume()
  }

  override _destroy (err: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.complete) {
      this.abandoned = true
      this.#request.cancel(err ?? undefined)
      this.#startFlowing()
      this.#request.stream.resume()
    }
    callback(err)
  }

  /**
   * A reset or stream error. Why the check: a body nobody reads must not crash the process with
   * an unhandled 'error'; it is destroyed quietly instead ('close' without 'end').
   */
  fail (err: MeshError): void {
    if (this.destroyed) return
    if (this.listenerCount('error') > 0 || this.readableFlowing === true) this.destroy(err)
    else this.destroy()
  }
}
