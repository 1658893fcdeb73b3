/**
 * When a try may be retried. Safe means: an idempotent method (RFC 9110 §9.2.2); or any method
 * when no request byte reached the peer (the session to it never opened); or a gRPC status the
 * route names as retryable. The body must also still be replayable (replay-body.ts).
 */
import type { RetryCondition, RetryConfig } from '../config/route-types.js'

const IDEMPOTENT: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE'])

export function isIdempotent (method: string): boolean {
  return IDEMPOTENT.has(method)
}

/** The condition a failed try (no response head) falls under. */
export function failureCondition (sessionOpened: boolean, perTryTimedOut: boolean): RetryCondition {
  if (perTryTimedOut) return 'timeout'
  return sessionOpened ? 'reset' : 'connect-failure'
}

/** Whether a try that failed without a response head may be sent again. */
export function mayRetryFailure (retry: RetryConfig, condition: RetryCondition, method: string): boolean {
  if (!retry.on.includes(condition)) return false
  // Nothing reached the peer: whatever the method, the request was never seen.
  return condition === 'connect-failure' || isIdempotent(method)
}

/**
 * The reason a response asks for a retry (`5xx`, `grpc`), or undefined. The gRPC status is the
 * head's (a trailers-only answer) or the trailers' of an answer held back until them
 * (held-response.ts); once any of a response has gone to the app it is never retried.
 */
export function responseRetryReason (retry: RetryConfig, status: number, grpcStatus: string | undefined, method: string): string | undefined {
  if (grpcStatus !== undefined && retry.grpcCodes.length > 0 && retry.grpcCodes.includes(Number(grpcStatus))) return 'grpc'
  if (status >= 500 && status <= 599 && retry.on.includes('5xx') && isIdempotent(method)) return '5xx'
  return undefined
}
