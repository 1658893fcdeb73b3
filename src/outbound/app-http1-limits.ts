/**
 * The limits of an app's HTTP/1 connection on an outbound listener, as node:http options and one
 * per-request step: the header-read timeout (`timeouts.headerReadMs`) and
 * `limits.maxRequestsPerConnection`.
 */
import type { IncomingMessage, ServerOptions, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { AppClientObserver } from './app-observer.js'

/**
 * node:http options for the header-read timeout. node measures `headersTimeout` from when the
 * connection reaches its parser (after detection) and, on keep-alive, from the first byte of the
 * next request (an idle keep-alive connection is closed by node's 5 s keepAliveTimeout first),
 * and checks it every `connectionsCheckingInterval`: a tenth of the timeout here (10 ms–1 s), so
 * it fires at most that late.
 */
export function headerTimerOptions (headerReadMs: number): Pick<ServerOptions, 'headersTimeout' | 'connectionsCheckingInterval'> {
  return {
    headersTimeout: headerReadMs,
    connectionsCheckingInterval: Math.min(1_000, Math.max(10, Math.ceil(headerReadMs / 10))),
  }
}

const kRequests = Symbol('meshgate.outbound.requests')

/**
 * Counts a request of its connection; the one that reaches `max` is answered with
 * `connection: close` and the connection closes after it (RFC 9112 §9.6). node:http's
 * `maxRequestsPerSocket` alone only writes the header and keeps the connection open.
 */
export function countHttp1Request (req: IncomingMessage, res: ServerResponse, max: number, observer: AppClientObserver | undefined): void {
  const socket = req.socket as Socket & { [kRequests]?: number }
  const count = (socket[kRequests] ?? 0) + 1
  socket[kRequests] = count
  if (count < max) return
  res.shouldKeepAlive = false
  observer?.sessionClosed('max_requests')
}
