/**
 * Counts an app request the outbound side answered on the raw socket, with no exchange behind it:
 * a request node's parser refused (400, 431), a CONNECT on an HTTP listener, an HTTP/1 Upgrade
 * that failed before its tunnel opened. One RequestEvent each, like every other answered request.
 */
import type { MeshError } from '../../core/errors.js'
import type { OutboundContext } from './context.js'
import { newRequestId } from './context.js'

export interface EarlyAnswer {
  /** The authority of a service the request was routed to; '' when it reached none (keeps the label bounded). */
  authority?: string
  method?: string
  path?: string
  /** When the request was read (performance.now()); absent: now. */
  started?: number
  /** The app's `x-request-id`, if it sent one. */
  requestId?: string
}

/** Reports the request answered with `err`'s status and code. */
export function reportEarlyAnswer (ctx: OutboundContext, err: MeshError, answer: EarlyAnswer = {}): void {
  const now = performance.now()
  ctx.telemetry.request({
    direction: 'outbound',
    protocol: 'http1',
    authority: answer.authority ?? '',
    method: answer.method ?? '',
    path: answer.path ?? '',
    identity: ctx.identity,
    peerIdentity: '',
    transport: '',
    status: err.status,
    errorCode: err.code,
    durationSeconds: (now - (answer.started ?? now)) / 1000,
    requestId: answer.requestId ?? newRequestId(),
  })
}
