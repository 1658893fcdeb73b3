// A bounded wait for an endpoint: callers queue up to a set time, then fail fast (E_NO_ENDPOINT).
import type { Endpoint } from '../discovery/types.js'
import { MeshError } from '../../core/errors.js'
import { noopBalancerObserver, type BalancerObserver } from './observer.js'
import type { AbortSignalLike, Balancer, Pick, PickKind } from './types.js'

export interface PickQueueOptions {
  /** Longest a caller waits for an endpoint, ms (default 1 s; 0 = fail at once). */
  maxWaitMs?: number
  /** Callers allowed to wait at once; the next one fails at once (default 1000). */
  maxWaiting?: number
  service?: string
  observer?: BalancerObserver
}

export const PICK_QUEUE_DEFAULTS = {
  maxWaitMs: 1_000, // 1 s
  maxWaiting: 1000,
} as const

/** A balancer that can say when endpoints may have become ready (e.g. an ejection ended). */
export interface ReadinessSource {
  onReady: (listener: () => void) => () => void
}

interface Waiter {
  kind: PickKind
  resolve: (pick: Pick) => void
  reject: (err: MeshError) => void
  timer: NodeJS.Timeout
  cleanup: () => void
}

function hasReadiness (b: Balancer): b is Balancer & ReadinessSource {
  return typeof (b as Partial<ReadinessSource>).onReady === 'function'
}

/**
 * Wraps a balancer with `acquire()`: a pick now, or a place in a FIFO queue served as soon as
 * `update()` (or the inner balancer's readiness signal) makes an endpoint available. A caller that
 * waits longer than `maxWaitMs`, finds the queue full, or is still waiting at `close()` gets
 * MeshError('E_NO_ENDPOINT'), which the edge answers with 503.
 */
export class PickQueue implements Balancer {
  private readonly waiters: Waiter[] = []
  private readonly maxWaitMs: number
  private readonly maxWaiting: number
  private readonly service: string
  private readonly observer: BalancerObserver
  private readonly unsubscribe: () => void
  private closed = false

  constructor (private readonly inner: Balancer, options: PickQueueOptions = {}) {
    this.maxWaitMs = options.maxWaitMs ?? PICK_QUEUE_DEFAULTS.maxWaitMs
    this.maxWaiting = options.maxWaiting ?? PICK_QUEUE_DEFAULTS.maxWaiting
    this.service = options.service ?? ''
    this.observer = options.observer ?? noopBalancerObserver
    this.unsubscribe = hasReadiness(inner) ? inner.onReady(() => this.drain()) : () => {}
  }

  get size (): number {
    return this.inner.size
  }

  /** Callers waiting now. */
  get waiting (): number {
    return this.waiters.length
  }

  update (endpoints: readonly Endpoint[]): void {
    this.inner.update(endpoints)
    this.drain()
  }

  pick (kind: PickKind): Pick | undefined {
    return this.inner.pick(kind)
  }

  /**
   * acquire() without waiting: an endpoint now, after earlier callers were served, or undefined
   * (then acquire() queues). Lets the caller skip a promise when, as usual, one is ready.
   */
  tryAcquire (kind: PickKind): Pick | undefined {
    // Serve earlier callers first; an endpoint may have become ready without a signal.
    if (this.waiters.length > 0) this.drain()
    return this.waiters.length === 0 ? this.inner.pick(kind) : undefined
  }

  /** An endpoint now or within `maxWaitMs`; rejects with MeshError('E_NO_ENDPOINT'). */
  acquire (kind: PickKind, signal?: AbortSignalLike): Promise<Pick> {
    const now = this.tryAcquire(kind)
    if (now !== undefined) return Promise.resolve(now)
    if (this.closed) return this.refuse('closed', 'the balancer is closed')
    if (this.maxWaitMs <= 0) return this.refuse('timeout', 'no endpoint is ready')
    if (this.waiters.length >= this.maxWaiting) return this.refuse('full', `${this.maxWaiting} callers already wait for an endpoint`)
    if (signal?.aborted === true) return Promise.reject(new MeshError('E_NO_ENDPOINT', 'aborted while waiting for an endpoint', { cause: signal.reason }))
    return new Promise<Pick>((resolve, reject) => {
      const onAbort = (): void => {
        this.remove(waiter)
        reject(new MeshError('E_NO_ENDPOINT', 'aborted while waiting for an endpoint', { cause: signal?.reason }))
      }
      const waiter: Waiter = {
        kind,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.remove(waiter)
          this.observer.queueRejected(this.service, 'timeout')
          reject(new MeshError('E_NO_ENDPOINT', `no endpoint of ${this.label()} became ready within ${this.maxWaitMs} ms`))
        }, this.maxWaitMs),
        cleanup: () => { signal?.removeEventListener('abort', onAbort) },
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      this.waiters.push(waiter)
    })
  }

  /** Fails every waiter now (e.g. discovery says the service does not exist). */
  rejectWaiting (reason: 'missing' | 'closed', message: string): void {
    for (const waiter of this.waiters.splice(0)) {
      clearTimeout(waiter.timer)
      waiter.cleanup()
      this.observer.queueRejected(this.service, reason)
      waiter.reject(new MeshError('E_NO_ENDPOINT', message))
    }
  }

  /** Fails the waiters and refuses new ones. Safe twice. */
  close (): void {
    this.closed = true
    this.unsubscribe()
    this.rejectWaiting('closed', `the balancer of ${this.label()} closed`)
  }

  private drain (): void {
    while (this.waiters.length > 0) {
      const waiter = this.waiters[0] as Waiter
      const pick = this.inner.pick(waiter.kind)
      if (pick === undefined) return
      this.waiters.shift()
      clearTimeout(waiter.timer)
      waiter.cleanup()
      waiter.resolve(pick)
    }
  }

  private remove (waiter: Waiter): void {
    const i = this.waiters.indexOf(waiter)
    if (i >= 0) this.waiters.splice(i, 1)
    clearTimeout(waiter.timer)
    waiter.cleanup()
  }

  private refuse (reason: 'timeout' | 'full' | 'closed', message: string): Promise<Pick> {
    this.observer.queueRejected(this.service, reason)
    return Promise.reject(new MeshError('E_NO_ENDPOINT', `${this.label()}: ${message}`))
  }

  private label (): string {
    return this.service === '' ? 'the service' : `service ${this.service}`
  }
}
