/**
 * The rules an app's h2c session on an outbound listener lives by: Envoy's premature-reset rule
 * against rapid reset (CVE-2023-44487), the same as the native engine applies to peer sessions,
 * and the optional `limits.maxRequestsPerConnection`. One guard per session; streams find it
 * through a symbol, so a stream costs two fields and one shared listener, not a closure.
 */
import type { Http2Session, ServerHttp2Session, ServerHttp2Stream } from 'node:http2'
import type { Logger } from 'pino'
import type { AppClientObserver } from './app-observer.js'

/** Streams a session must have opened before the premature-reset rule may close it. */
export const PREMATURE_RESET_MIN_STREAMS = 500
/** A stream reset by the client within this long of opening is premature, ms. */
export const PREMATURE_RESET_MS = 1000

const kGuard = Symbol('meshgate.outbound.h2cGuard')
const kOpenedAt = Symbol('meshgate.outbound.openedAt')
/** HTTP/2's ENHANCE_YOUR_CALM error code (RFC 9113 §7), node:http2's constants.NGHTTP2_ENHANCE_YOUR_CALM: this module loads without node:http2. */
const ENHANCE_YOUR_CALM = 0xb

type GuardedStream = ServerHttp2Stream & { [kGuard]?: AppH2cSessionGuard, [kOpenedAt]?: number }
type GuardedSession = ServerHttp2Session & { [kGuard]?: AppH2cSessionGuard }

export interface AppH2cRules {
  /** GOAWAY (NO_ERROR) once this many streams were opened; undefined: no limit. */
  maxStreams: number | undefined
  logger: Logger
  observer: AppClientObserver | undefined
}

class AppH2cSessionGuard {
  readonly session: ServerHttp2Session
  readonly rules: AppH2cRules
  opened = 0
  premature = 0
  tripped = false

  constructor (session: ServerHttp2Session, rules: AppH2cRules) {
    this.session = session
    this.rules = rules
  }

  /** A new stream from the client: counted, and watched for its reset. */
  streamOpened (stream: GuardedStream): void {
    this.opened++
    const now = performance.now()
    if (stream.aborted) {
      // HEADERS and RST_STREAM came in one read: node emits 'stream' for it already reset.
      this.reset(now)
    } else {
      stream[kGuard] = this
      stream[kOpenedAt] = now
      stream.once('aborted', onStreamAborted)
    }
    const { maxStreams } = this.rules
    // RFC 9113 §6.8: GOAWAY names the last stream processed (this one); in-flight ones finish.
    if (maxStreams !== undefined && this.opened === maxStreams) {
      this.rules.observer?.sessionClosed('max_requests')
      this.session.close()
    }
  }

  /** The client reset a stream: the premature-reset rule, checked on every reset. */
  reset (openedAt: number): void {
    if (performance.now() - openedAt < PREMATURE_RESET_MS) this.premature++
    if (this.tripped || this.opened < PREMATURE_RESET_MIN_STREAMS || this.premature * 2 <= this.opened) return
    this.tripped = true
    const { session, rules } = this
    // One line per closed session, whatever the number of resets behind it.
    rules.logger.warn({
      code: 'E_APP_RAPID_RESET',
      remote: session.socket?.remoteAddress,
      reason: `premature resets: ${this.premature} of ${this.opened} streams reset by the client within ${PREMATURE_RESET_MS} ms of opening`,
    }, 'app h2c session closed with GOAWAY(ENHANCE_YOUR_CALM)')
    rules.observer?.sessionClosed('rapid_reset')
    // GOAWAY now (inside nghttp2's receive: new streams of this read are refused from here on),
    // the session torn down once the read is over.
    session.goaway(ENHANCE_YOUR_CALM)
    setImmediate(destroyCalm, session)
  }
}

/** Puts the rules on a new app h2c session (from the server's 'session' event). */
export function guardAppH2cSession (session: ServerHttp2Session, rules: AppH2cRules): void {
  (session as GuardedSession)[kGuard] = new AppH2cSessionGuard(session, rules)
  // The session's own event: a stream reset in the read that opened it has lost its `session`.
  session.on('stream', onSessionStream)
}

/** True once the session was closed by the premature-reset rule (its streams' ends are not failures). */
export function closedByRule (session: Http2Session | undefined): boolean {
  return (session as GuardedSession | undefined)?.[kGuard]?.tripped === true
}

function onSessionStream (this: GuardedSession, stream: ServerHttp2Stream): void {
  this[kGuard]?.streamOpened(stream)
}

/**
 * 'aborted': the stream closed before its response ended. Reset by the client only when node did
 * not destroy it itself (our own resets run through destroy(), which marks it destroyed first).
 */
function onStreamAborted (this: GuardedStream): void {
  const guard = this[kGuard]
  if (guard === undefined || this.destroyed) return
  guard.reset(this[kOpenedAt] ?? 0)
}

function destroyCalm (session: ServerHttp2Session): void {
  session.destroy(undefined, ENHANCE_YOUR_CALM)
}
