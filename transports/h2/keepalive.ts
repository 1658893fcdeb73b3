// Keep-alive: PINGs a session on an interval, reports their round trip, kills it if one goes unanswered.
import type { Http2Session } from 'node:http2'
import { MeshError } from '../../core/errors.js'

export interface KeepAliveOptions {
  /** Interval between PINGs, ms; 0 turns keep-alive off. The first PING goes out at once. */
  intervalMs: number
  /** How long a PING may stay unanswered before the session is declared dead, ms. */
  timeoutMs: number
  /** Called with each measured round trip, seconds. */
  onRtt: (seconds: number) => void
  /** Called once when a PING went unanswered; the caller destroys the session. */
  onDead: (err: MeshError) => void
}

/** Starts the PING loop (RFC 9113 §6.7) and returns the function that stops it. */
export function startKeepAlive (session: Http2Session, options: KeepAliveOptions): () => void {
  if (options.intervalMs <= 0) return () => {}
  let pending: NodeJS.Timeout | undefined
  let stopped = false

  const stop = (): void => {
    stopped = true
    clearInterval(interval)
    if (pending !== undefined) clearTimeout(pending)
    pending = undefined
  }

  const onAnswer = (err: Error | null, durationMs: number): void => {
    if (pending !== undefined) clearTimeout(pending)
    pending = undefined
    if (err === null && !stopped) options.onRtt(durationMs / 1000)
  }

  const onTimeout = (): void => {
    pending = undefined
    if (stopped) return
    stop()
    options.onDead(new MeshError('E_PEER_RESET', `keep-alive PING unanswered for ${options.timeoutMs} ms`))
  }

  const ping = (): void => {
    // One PING in flight at a time: a slow answer is still an answer until the timeout fires.
    if (stopped || pending !== undefined || session.destroyed || session.closed) return
    try {
      if (!session.ping(onAnswer)) return
    } catch {
      return // the session is going away; its own close handling reports that
    }
    pending = setTimeout(onTimeout, options.timeoutMs)
    pending.unref()
  }

  const interval = setInterval(ping, options.intervalMs)
  interval.unref()
  session.once('close', stop)
  ping()
  return stop
}
