// Outbound streams on a client session: opening one, and CONNECT tunnels (requests: client-request.ts).
import { constants, type ClientHttp2Session, type ClientHttp2Stream } from 'node:http2'
import { MeshError } from '../../core/errors.js'
import type { PeerTunnel, RequestHead, StreamOptions } from '../contract.js'
import { abortReason, tunnelRefusal, unprocessedRefusal } from '../stream-errors.js'
import { cancellable, guardDuplex, type Cancel } from './peer-stream.js'
import { headerListSize, requestHeaders, toResponseHead } from './headers.js'

// node copies its request options: shared constants instead of an object per stream.
const END_STREAM = Object.freeze({ endStream: true })
const OPEN_STREAM = Object.freeze({ endStream: false })
const REFUSED_STREAM = constants.NGHTTP2_REFUSED_STREAM

/** The session's count of open streams: `opened` once per stream, `closed` once when it closes. */
export interface StreamCounter {
  opened: () => void
  closed: () => void
}

/** A stream plus the way to reset it with RST_STREAM(CANCEL) and no END_STREAM before it. */
export interface OpenedStream {
  stream: ClientHttp2Stream
  cancel: Cancel
}

/**
 * Opens a CONNECT stream (RFC 9113 §8.5) or an extended CONNECT (RFC 8441 §4); resolves on a 2xx.
 * Any other status rejects with the peer's `meshgate-error` code when it is one we know.
 */
export async function openTunnel (
  session: ClientHttp2Session,
  head: RequestHead,
  options: StreamOptions,
  counter: StreamCounter
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
  counter.opened()
  stream.once('close', counter.closed)

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
        resolve({ head: response, stream: guardDuplex(stream, cancel, { reset: (cause) => resetError(stream, head.authority, cause) }) })
        return
      }
      cancel()
      reject(tunnelRefusal(response.status, response.headers, head))
    })
    stream.on('error', (err) => {
      if (!settled) reject(resetError(stream, head.authority, err))
      settled = true
    })
    stream.once('close', () => {
      signal?.removeEventListener('abort', onAbort)
      if (!settled) reject(resetError(stream, head.authority))
      settled = true
    })
  })
}

/** Opens a stream with the request's HEADERS; throws E_HEADERS_TOO_LARGE, E_BAD_REQUEST or E_PEER_REFUSED. */
export function openStream (session: ClientHttp2Session, head: RequestHead, endStream: boolean): OpenedStream {
  const stream = openRawStream(session, head, endStream)
  return { stream, cancel: cancellable(stream) }
}

/** openStream() without the reset closure (requests reset with cancelStream()). */
export function openRawStream (session: ClientHttp2Session, head: RequestHead, endStream: boolean): ClientHttp2Stream {
  const headers = requestHeaders(head)
  const limit = session.remoteSettings.maxHeaderListSize
  const size = headerListSize(headers)
  if (limit !== undefined && size > limit) {
    // Checked here because a peer that gets a too-large header block may drop the whole session.
    throw new MeshError('E_HEADERS_TOO_LARGE', `request head to ${head.authority} is ${size} bytes; the peer accepts at most ${limit} (SETTINGS_MAX_HEADER_LIST_SIZE)`)
  }
  let stream: ClientHttp2Stream
  try {
    stream = session.request(headers, endStream ? END_STREAM : OPEN_STREAM)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    const invalid = code === 'ERR_HTTP2_INVALID_HEADER_VALUE' || code === 'ERR_INVALID_HTTP_TOKEN' ||
      code === 'ERR_HTTP2_INVALID_CONNECTION_HEADERS' || code === 'ERR_HTTP2_HEADER_SINGLE_VALUE'
    throw new MeshError(invalid ? 'E_BAD_REQUEST' : 'E_PEER_REFUSED', `cannot open a stream to ${head.authority}: ${(err as Error).message}`, { cause: err })
  }
  return stream
}

/**
 * A stream failure as E_PEER_RESET, naming the authority and the RST_STREAM code; E_PEER_REFUSED
 * when the peer refused the stream unprocessed (REFUSED_STREAM, or a GOAWAY below it: RFC 9113
 * §8.7), which a caller may send once more (transport-selector.ts mayResend()).
 */
export function resetError (stream: ClientHttp2Stream, authority: string, cause?: Error): MeshError {
  if (cause instanceof MeshError) return cause
  if (stream.rstCode === REFUSED_STREAM) return unprocessedRefusal(`the peer refused the stream to ${authority} unprocessed (REFUSED_STREAM)`, cause)
  const reason = cause?.message ?? `closed early (RST_STREAM code ${stream.rstCode ?? 'none'})`
  return new MeshError('E_PEER_RESET', `stream to ${authority} failed: ${reason}`, { cause })
}
