// Outbound streams on a client session: a request with streamed bodies, or a CONNECT tunnel.
import type { ClientHttp2Session, ClientHttp2Stream } from 'node:http2'
import { Readable } from 'node:stream'
import { ERROR_CODES, ERROR_HEADER, MeshError, type ErrorCode } from '../../src/errors.js'
import type { HeaderMap, PeerResponse, PeerTunnel, RequestHead, StreamOptions } from '../contract.js'
import { headerValue, requestHeaders, toHeaderMap, toResponseHead } from './headers.js'

/** A stream plus the way to reset it with RST_STREAM(CANCEL) and no END_STREAM before it. */
interface OpenedStream {
  stream: ClientHttp2Stream
  cancel: (reason?: Error) => void
}

/** Sends a request (not CONNECT); resolves on the response head, the body streaming behind it. */
export async function sendRequest (
  session: ClientHttp2Session,
  head: RequestHead,
  body: Readable | null,
  options: StreamOptions,
  track: (stream: ClientHttp2Stream) => void
): Promise<PeerResponse> {
  if (head.method.toUpperCase() === 'CONNECT') {
    throw new MeshError('E_BAD_REQUEST', 'CONNECT goes through tunnel(), not request()')
  }
  const { signal } = options
  if (signal?.aborted === true) throw abortReason(signal)
  const { stream, cancel } = openStream(session, head, body === null)
  track(stream)

  return await new Promise<PeerResponse>((resolve, reject) => {
    let response: Readable | undefined
    let trailers: HeaderMap | undefined

    const onAbort = (): void => {
      const reason = abortReason(signal)
      if (response === undefined) reject(reason)
      else response.destroy(reason)
      cancel(reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })

    stream.once('response', (headers) => {
      response = responseBody(stream, cancel, head.authority)
      resolve({ head: toResponseHead(headers), body: response, trailers: () => trailers })
    })
    stream.once('trailers', (headers) => { trailers = toHeaderMap(headers) })
    stream.on('error', (err) => {
      if (response === undefined) reject(resetError(err, head.authority))
    })
    stream.once('close', () => {
      signal?.removeEventListener('abort', onAbort)
      if (body !== null && !body.readableEnded) body.destroy()
      if (response === undefined) reject(closedEarly(stream, head.authority))
    })

    if (body !== null) {
      body.once('error', (err) => {
        cancel(err)
        if (response === undefined) reject(new MeshError('E_PEER_RESET', `request body to ${head.authority} failed: ${err.message}`, { cause: err }))
      })
      body.pipe(stream) // backpressure: pipe pauses the body while the stream's send window is full
    }
  })
}

/**
 * Opens a CONNECT stream (RFC 9113 §8.5) or an extended CONNECT (RFC 8441 §4); resolves on a 2xx.
 * Any other status rejects with the peer's `meshgate-error` code when it is one we know.
 */
export async function openTunnel (
  session: ClientHttp2Session,
  head: RequestHead,
  options: StreamOptions,
  track: (stream: ClientHttp2Stream) => void
): Promise<PeerTunnel> {
  if (head.method.toUpperCase() !== 'CONNECT') {
    throw new MeshError('E_BAD_REQUEST', `tunnel() needs method CONNECT, found ${head.method}`)
  }
  if (head.protocol !== undefined && session.remoteSettings.enableConnectProtocol !== true) {
    // RFC 8441 §3: extended CONNECT only after the peer sent SETTINGS_ENABLE_CONNECT_PROTOCOL = 1.
    throw new MeshError('E_PEER_REFUSED', `peer does not accept extended CONNECT (:protocol ${head.protocol})`)
  }
  const { signal } = options
  if (signal?.aborted === true) throw abortReason(signal)
  const { stream, cancel } = openStream(session, head, false)
  track(stream)

  return await new Promise<PeerTunnel>((resolve, reject) => {
    let settled = false
    const onAbort = (): void => {
      const reason = abortReason(signal)
      if (!settled) reject(reason)
      settled = true
      cancel(reason)
    }
    signal?.addEventListener('abort', onAbort, { once: true })

    stream.once('response', (headers) => {
      settled = true
      const response = toResponseHead(headers)
      if (response.status >= 200 && response.status < 300) {
        resolve({ head: response, stream })
        return
      }
      cancel()
      reject(refusal(response.status, response.headers, head))
    })
    stream.on('error', (err) => {
      if (!settled) reject(resetError(err, head.authority))
      settled = true
    })
    stream.once('close', () => {
      signal?.removeEventListener('abort', onAbort)
      if (!settled) reject(closedEarly(stream, head.authority))
      settled = true
    })
  })
}

function openStream (session: ClientHttp2Session, head: RequestHead, endStream: boolean): OpenedStream {
  // Why a signal: node resets a stream aborted this way with RST_STREAM(CANCEL) at once, whereas
  // stream.close(code) on a stream still sending would first flush END_STREAM, and the peer would
  // take a cut-off body for a whole one.
  const controller = new AbortController()
  try {
    const stream = session.request(requestHeaders(head), { endStream, signal: controller.signal })
    return { stream, cancel: (reason) => { if (!stream.destroyed) controller.abort(reason) } }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const invalid = code === 'ERR_HTTP2_INVALID_HEADER_VALUE' || code === 'ERR_INVALID_HTTP_TOKEN' ||
      code === 'ERR_HTTP2_INVALID_CONNECTION_HEADERS' || code === 'ERR_HTTP2_HEADER_SINGLE_VALUE'
    throw new MeshError(invalid ? 'E_BAD_REQUEST' : 'E_PEER_REFUSED', `cannot open a stream to ${head.authority}: ${(err as Error).message}`, { cause: err })
  }
}

/**
 * The response body as its own Readable so that failures surface as E_PEER_RESET; flow control
 * is kept because the h2 stream is paused whenever this body's buffer is full.
 */
function responseBody (stream: ClientHttp2Stream, cancel: (reason?: Error) => void, authority: string): Readable {
  let ended = false
  const body = new Readable({
    read () { stream.resume() },
    destroy (err, callback) {
      if (!ended) cancel(err ?? undefined)
      callback(err)
    },
  })
  stream.on('data', (chunk: Buffer) => { if (!body.push(chunk)) stream.pause() })
  stream.once('end', () => { ended = true; body.push(null) })
  stream.once('error', (err) => body.destroy(resetError(err, authority)))
  stream.once('close', () => { if (!ended) body.destroy(closedEarly(stream, authority)) })
  return body
}

function refusal (status: number, headers: HeaderMap, head: RequestHead): MeshError {
  const peerCode = headerValue(headers, ERROR_HEADER)
  const code: ErrorCode = peerCode !== undefined && Object.hasOwn(ERROR_CODES, peerCode) ? peerCode as ErrorCode : 'E_PEER_REFUSED'
  return new MeshError(code, `peer refused CONNECT ${head.authority}${head.protocol === undefined ? '' : ` (:protocol ${head.protocol})`}: status ${status}${peerCode === undefined ? '' : ` ${peerCode}`}`)
}

function resetError (err: Error, authority: string): MeshError {
  if (err instanceof MeshError) return err
  return new MeshError('E_PEER_RESET', `stream to ${authority} failed: ${err.message}`, { cause: err })
}

function closedEarly (stream: ClientHttp2Stream, authority: string): MeshError {
  return new MeshError('E_PEER_RESET', `stream to ${authority} closed early (RST_STREAM code ${stream.rstCode ?? 'none'})`)
}

/** Why a signal aborted: its reason when that is an Error, else an AbortError. */
export function abortReason (signal: AbortSignal | undefined): Error {
  const reason: unknown = signal?.reason
  return reason instanceof Error ? reason : new DOMException('the stream was aborted', 'AbortError')
}
