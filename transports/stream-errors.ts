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

/** Why a signal aborted: its reason when that is an Error, else an AbortError. */
export function abortReason (signal: AbortSignalLike | undefined): Error {
  const reason: unknown = signal?.reason
  return reason instanceof Error ? reason : new DOMException('the stream was aborted', 'AbortError')
}
