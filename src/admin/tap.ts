/**
 * The live tap: fans RequestEvents and TunnelEvents out to subscribers that asked for them, each
 * behind its own token bucket, so a tap costs the data path one comparison while nobody listens
 * and a bounded amount while someone does. Events a subscriber can't take (rate, back-pressure)
 * are dropped and counted, never queued.
 */
import type { RequestEndEvent, RequestEvent, Telemetry, TunnelEvent } from '../telemetry.js'
import { TokenBucket } from './token-bucket.js'

/** What a subscriber asks for; every field set must match (AND). */
export interface TapFilter {
  /** Exact `authority` of the event. */
  authority?: string
  /** Requests whose path starts with this; tunnels never match a path filter. */
  pathPrefix?: string
  /** Request method (case-insensitive); tunnels match `CONNECT`. */
  method?: string
  /** Matches the event's caller `identity` or its `peerIdentity`. */
  identity?: string
}

export type TapRecord =
  | ({ type: 'request', time: string } & RequestEvent)
  | ({ type: 'tunnel', time: string } & TunnelEvent)

/** Where a subscription's records go. */
export interface TapSink {
  /** Delivers one record; false means the sink could not take it now (counted as dropped). */
  deliver: (record: TapRecord) => boolean
  /** Reports events dropped since the last report (rate limit or back-pressure). */
  dropped: (count: number) => void
  /** The subscription ended (its limit reached or the hub closed). */
  end: () => void
}

export interface TapSubscribeOptions {
  /** Events per second delivered at most (default: the hub's). */
  ratePerSecond?: number
  /** End the subscription after this many delivered events (default: no limit). */
  limit?: number
}

export interface TapSubscription {
  readonly delivered: number
  /** Events dropped over the subscription's life. */
  readonly droppedTotal: number
  /** Stops delivery; does not call the sink's `end`. Safe twice. */
  close: () => void
}

export interface TapHubOptions {
  /** Default per-subscriber rate, events/s (default 100). */
  ratePerSecond?: number
  /** Concurrent subscribers at most (default 16). */
  maxSubscribers?: number
  /** How often pending drop counts are reported, ms (default 1 s). */
  dropReportMs?: number
  /** The rate limit's clock, ms (default `performance.now`); tests pass their own. */
  now?: () => number
}

class Subscriber implements TapSubscription {
  delivered = 0
  droppedTotal = 0
  pendingDropped = 0
  closed = false
  readonly method: string | undefined

  constructor (
    private readonly detach: (s: Subscriber) => void,
    readonly filter: TapFilter,
    readonly sink: TapSink,
    readonly bucket: TokenBucket,
    readonly limit: number
  ) {
    this.method = filter.method?.toUpperCase()
  }

  matchesRequest (e: RequestEvent): boolean {
    const f = this.filter
    if (f.authority !== undefined && e.authority !== f.authority) return false
    if (f.pathPrefix !== undefined && !e.path.startsWith(f.pathPrefix)) return false
    if (this.method !== undefined && e.method.toUpperCase() !== this.method) return false
    if (f.identity !== undefined && e.identity !== f.identity && e.peerIdentity !== f.identity) return false
    return true
  }

  matchesTunnel (e: TunnelEvent): boolean {
    const f = this.filter
    if (f.pathPrefix !== undefined) return false
    if (this.method !== undefined && this.method !== 'CONNECT') return false
    if (f.authority !== undefined && e.authority !== f.authority) return false
    if (f.identity !== undefined && e.identity !== f.identity && e.peerIdentity !== f.identity) return false
    return true
  }

  /** Rate check, then delivery; returns true when the limit is reached. */
  offer (record: TapRecord): boolean {
    if (!this.bucket.take() || !this.sink.deliver(record)) {
      this.pendingDropped++
      this.droppedTotal++
      return false
    }
    this.delivered++
    return this.delivered >= this.limit
  }

  close (): void {
    if (this.closed) return
    this.closed = true
    this.detach(this)
  }
}

/** Implements Telemetry: hand it to the roles through `combineTelemetry(metrics.telemetry, tap)`. */
export class TapHub implements Telemetry {
  readonly ratePerSecond: number
  readonly maxSubscribers: number
  private readonly dropReportMs: number
  private readonly now: () => number
  private subscribers: Subscriber[] = []
  private timer: NodeJS.Timeout | undefined

  constructor (options: TapHubOptions = {}) {
    this.ratePerSecond = options.ratePerSecond ?? 100
    this.maxSubscribers = options.maxSubscribers ?? 16
    this.dropReportMs = options.dropReportMs ?? 1000
    this.now = options.now ?? (() => performance.now())
  }

  get subscriberCount (): number {
    return this.subscribers.length
  }

  /** Adds a subscriber; undefined when `maxSubscribers` are already listening. */
  subscribe (filter: TapFilter, sink: TapSink, options: TapSubscribeOptions = {}): TapSubscription | undefined {
    if (this.subscribers.length >= this.maxSubscribers) return undefined
    const rate = options.ratePerSecond ?? this.ratePerSecond
    const sub = new Subscriber(this.remove, { ...filter }, sink, new TokenBucket(rate, rate, this.now), options.limit ?? Infinity)
    // Copy on write: the event path iterates the array without guarding against mutation.
    this.subscribers = [...this.subscribers, sub]
    if (this.timer === undefined) {
      this.timer = setInterval(() => { this.reportDrops() }, this.dropReportMs)
      this.timer.unref()
    }
    return sub
  }

  /** Called by a subscription's `close()`. */
  private readonly remove = (sub: Subscriber): void => {
    this.subscribers = this.subscribers.filter((s) => s !== sub)
    if (sub.pendingDropped > 0) {
      sub.sink.dropped(sub.pendingDropped)
      sub.pendingDropped = 0
    }
    if (this.subscribers.length === 0 && this.timer !== undefined) {
      clearInterval(this.timer)
      this.timer = undefined
    }
  }

  readonly request = (e: RequestEvent): void => {
    const subs = this.subscribers
    if (subs.length === 0) return
    let record: TapRecord | undefined
    for (const s of subs) {
      if (!s.matchesRequest(e)) continue
      record ??= { type: 'request', time: new Date().toISOString(), ...e }
      if (s.offer(record)) this.finish(s)
    }
  }

  readonly requestEnd = (_e: RequestEndEvent): void => {}

  readonly tunnel = (e: TunnelEvent): void => {
    const subs = this.subscribers
    if (subs.length === 0) return
    let record: TapRecord | undefined
    for (const s of subs) {
      if (!s.matchesTunnel(e)) continue
      record ??= { type: 'tunnel', time: new Date().toISOString(), ...e }
      if (s.offer(record)) this.finish(s)
    }
  }

  /** Ends every subscription (their sinks' `end` is called). Safe twice. */
  close (): void {
    for (const s of this.subscribers) this.finish(s)
  }

  private finish (s: Subscriber): void {
    s.close()
    s.sink.end()
  }

  private reportDrops (): void {
    for (const s of this.subscribers) {
      if (s.pendingDropped > 0) {
        s.sink.dropped(s.pendingDropped)
        s.pendingDropped = 0
      }
    }
  }
}
