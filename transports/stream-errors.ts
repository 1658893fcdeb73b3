// Errors every transport's client streams raise alike: a refused CONNECT and an aborted stream.
import { ERROR_CODES, ERROR_HEADER, MeshError, type ErrorCode } from '../core/errors.js'
import type { AbortSignalLike, HeaderMap, RequestHead } from './contract.js'

/**
 * A non-2xx answer to a CONNECT (plain or extended) as a MeshError: the peer's own
 * `meshgate-error` code when it is one we know, else E_PEER_REFUSED.
 */
export function tunnelRefusal (status: number, headers: HeaderMap, head: RequestHead): MeshError {
  const value = headers[ERROR_HEADER]
  const peerCode = Array.isArray(value) ? value[0] : value
  const code: ErrorCode = peerCode !== undefined && Object.hasOwn(ERROR_CODES, peerCode) ? peerCode as ErrorCode : 'E_PEER_REFUSED'
  return new MeshError(code, `peer refused CONNECT ${head.authority}${head.protocol === undefined ? '' : ` (:protocol ${head.protocol})`}: status ${status}${peerCode === undefined ? '' : ` ${peerCode}`}`)
}

/** Errors made by unprocessedRefusal(). */
const unprocessed = new WeakSet<MeshError>()

/**
 * E_PEER_REFUSED for a stream the peer refused and says it did not process: h2's RST_STREAM
 * REFUSED_STREAM (RFC 9113 §8.7) or h3's H3_REQUEST_REJECTED (RFC 9114 §4.1.1). Such a request
 * may be sent once more whether or not the session is going away (isUnprocessedRefusal()).
 */
export function unprocessedRefusal (message: string, cause?: Error): MeshError {
  const err = new MeshError('E_PEER_REFUSED', message, { cause })
  unprocessed.add(err)
  return err
}

/** True for an error made by unprocessedRefusal(): the peer said it did not process the stream. */
export function isUnprocessedRefusal (err: unknown): boolean {
  return err instanceof MeshError && unprocessed.has(err)
}

/** Why a signal aborted: its reason when that is an Error, else an AbortError. */
export function abortReason (signal: AbortSignalLike | undefined): Error {
  const reason: unknown = signal?.reason
  return reason instanceof Error ? reason : new DOMException('the stream was aborted', 'AbortError')
}
