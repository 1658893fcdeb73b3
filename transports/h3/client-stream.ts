// Outbound streams on an HTTP/3 session: a request with streamed bodies, or a CONNECT tunnel.
import type { Readable } from 'node:stream'
import { H3_CODES, QuicStreamError, type QuicSession, type QuicStream } from '../../native/quic.js'
import { MeshError } from '../../core/errors.js'
import type { HeaderMap, PeerResponse, PeerTunnel, RequestHead, StreamOptions } from '../contract.js'
import { abortReason, tunnelRefusal, unprocessedRefusal } from '../stream-errors.js'
import { requestFields, toHeaderMap, toResponseHead } from './headers.js'
import { guardDuplex, guardReadable, resetStream } from './peer-stream.js'

/** Sends a request (not CONNECT); resolves on the response head, the body streaming behind it. */
/** Opens a stream with the request's header section (throws E_PEER_REFUSED if it cannot). */
export type OpenStream = (head: RequestHead, endStream: boolean) => QuicStream

export async function sendRequest (
  open: OpenStream,
  head: RequestHead,
  body: Readable | null,
  options: StreamOptions,
  track: (stream: QuicStream) => void
): Promise<PeerResponse> {
  if (head.method.toUpperCase() === 'CONNECT') {
    throw new MeshError('E_BAD_REQUEST', 'CONNECT goes through tunnel(), not request()')
  }
  const { signal } = options
  if (signal?.aborted === true) throw abortReason(signal)
  const stream = open(head, body === null)
  track(stream)

  return await new Promise<PeerResponse>((resolve, reject) => {
    let response: Readable | undefined
    let trailers: HeaderMap | undefined

    const onAbort = (): void => {
      const reason = abortReason(signal)
      if (response === undefined) reject(reason)
      else response.destroy(reason)
      resetStream(stream)
    }
    signal?.addEventListener('abort', onAbort, { once: true })

    stream.once('response', (fields) => {
      response = guardReadable(stream, { reset: (cause) => resetError(head.authority, cause) }, 'reset')
      resolve({ head: toResponseHead(fields), body: response, trailers: () => trailers })
    })
    stream.once('trailers', (fields) => { trailers = toHeaderMap(fields) })
    stream.on('error', (err: Error) => {
      if (response === undefined) reject(resetError(head.authority, err))
    })
    stream.once('close', () => {
      signal?.removeEventListener('abort', onAbort)
      if (body !== null && !body.readableEnded) body.destroy()
      if (response === undefined) reject(resetError(head.authority, stream.errored ?? undefined))
    })

    if (body !== null) {
      body.once('error', (err) => {
        // RESET_STREAM, never FIN: the peer must not take a cut-off body for a whole one.
        resetStream(stream)
        if (response === undefined) reject(new MeshError('E_PEER_RESET', `request body to ${head.authority} failed: ${err.message}`, { cause: err }))
      })
      body.pipe(stream) // backpressure: pipe pauses the body while the stream is over its high-water mark
    }
  })
}

/**
 * Opens a CONNECT stream (RFC 9114 §4.4) or an extended CONNECT (RFC 9220 §3); resolves on a 2xx.
 * Any other status rejects with the peer's `meshgate-error` code when it is one we know.
 */
export async function openTunnel (
  open: OpenStream,
  head: RequestHead,
  options: StreamOptions,
  track: (stream: QuicStream) => void
): Promise<PeerTunnel> {
  if (head.method.toUpperCase() !== 'CONNECT') {
    throw new MeshError('E_BAD_REQUEST', `tunnel() needs method CONNECT, found ${head.method}`)
  }
  const { signal } = options
  if (signal?.aborted === true) throw abortReason(signal)
  const stream = open(head, false)
  track(stream)

  return await new Promise<PeerTunnel>((resolve, reject) => {
    let settled = false
    const onAbort = (): void => {
      const reason = abortReason(signal)
      if (!settled) reject(reason)
      settled = true
      resetStream(stream)
    }
    signal?.addEventListener('abort', onAbort, { once: true })

    stream.once('response', (fields) => {
      settled = true
      const response = toResponseHead(fields)
      if (response.status >= 200 && response.status < 300) {
        resolve({ head: response, stream: guardDuplex(stream, { reset: (cause) => resetError(head.authority, cause) }) })
        return
      }
      // The refusal is a whole response: read it to its end and close our side with FIN.
      stream.on('error', () => {})
      stream.resume()
      stream.end()
      reject(tunnelRefusal(response.status, response.headers, head))
    })
    stream.on('error', (err: Error) => {
      if (!settled) reject(resetError(head.authority, err))
      settled = true
    })
    stream.once('close', () => {
      signal?.removeEventListener('abort', onAbort)
      if (!settled) reject(resetError(head.authority, stream.errored ?? undefined))
      settled = true
    })
  })
}

/** Opens a request stream on `session`; a refusal by the binding (closing session) is E_PEER_REFUSED. */
export function openStream (session: QuicSession, head: RequestHead, endStream: boolean): QuicStream {
  try {
    return session.request(requestFields(head), { endStream })
  } catch (err) {
    throw new MeshError('E_PEER_REFUSED', `cannot open a stream to ${head.authority}: ${(err as Error).message}`, { cause: err })
  }
}

function resetError (authority: string, cause?: Error): MeshError {
  if (cause instanceof MeshError) return cause
  if (cause instanceof QuicStreamError && cause.code === H3_CODES.requestRejected) {
    // RFC 9114 §4.1.1: the peer did not process it (a request racing its GOAWAY); safe to send again.
    return unprocessedRefusal(`peer rejected the stream to ${authority} unprocessed (H3_REQUEST_REJECTED)`, cause)
  }
  const reason = cause?.message ?? 'closed before its end (RESET_STREAM or session lost)'
  return new MeshError('E_PEER_RESET', `stream to ${authority} failed: ${reason}`, { cause })
}
