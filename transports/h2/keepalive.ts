// Keep-alive: PINGs a session on an interval, reports their round trip, kills it if one goes
// unanswered while nothing else arrives from the peer either.
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

  // Bytes read from the peer when the PING went out. A PING ACK queues behind the DATA the peer
  // sent before it (through every buffer on the way, and a tunnelled session has several), so a
  // busy session can take longer than the timeout to answer; bytes still arriving mean the peer
  // is alive, and the wait goes on. Only a peer that sends nothing at all is declared dead.
  let readAtPing = 0
  const bytesRead = (): number => {
    try {
      const read = (session.socket as { bytesRead?: unknown } | undefined)?.bytesRead
      return typeof read === 'number' ? read : 0
    } catch {
      return 0
    }
  }

  const onTimeout = (): void => {
    pending = undefined
    if (stopped) return
    const read = bytesRead()
    if (read > readAtPing) {
      readAtPing = read
      pending = setTimeout(onTimeout, options.timeoutMs)
      pending.unref()
      return
    }
    stop()
    options.onDead(new MeshError('E_PEER_RESET', `keep-alive PING unanswered for ${options.timeoutMs} ms, and nothing else read from the peer meanwhile`))
  }

  const ping = (): void => {
    // One PING in flight at a time: a slow answer is still an answer until the timeout fires.
    if (stopped || pending !== undefined || session.destroyed || session.closed) return
    try {
      if (!session.ping(onAnswer)) return
    } catch {
      return // the session is going away; its own close handling reports that
    }
    readAtPing = bytesRead()
    pending = setTimeout(onTimeout, options.timeoutMs)
    pending.unref()
  }

  const interval = setInterval(ping, options.intervalMs)
  interval.unref()
  session.once('close', stop)
  ping()
  return stop
}
