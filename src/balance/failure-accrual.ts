// Ejects endpoints that keep failing, backs off with jitter, probes them back in; never ejects all.
import type { Logger } from '../log.js'
import type { Endpoint } from '../discovery/types.js'
import { systemClock, type Clock } from './clock.js'
import { once } from './keyed.js'
import { noopBalancerObserver, type BalancerObserver, type EndpointStateCounts } from './observer.js'
import type { Balancer, Pick, PickKind, PickResult } from './types.js'

export interface FailureAccrualOptions {
  /** Consecutive failures that eject an endpoint (default 5; 0 = off). */
  consecutiveFailures?: number
  /** Failure share over the last `rateWindow` outcomes that ejects (default 0.5; above 1 turns it off). */
  failureRate?: number
  /** Outcomes the failure rate is computed over (default 20). */
  rateWindow?: number
  /** Outcomes needed before the rate counts (default 10). */
  rateMinRequests?: number
  /** First ejection lasts this long, ms (default 1 s); doubles per repeated ejection. */
  backoffInitialMs?: number
  /** Ejections never last longer, ms (default 60 s). */
  backoffMaxMs?: number
  /** Share of the backoff removed at random, 0..1 (default 0.2): delay ∈ [d × (1 − jitter), d]. */
  jitter?: number
  clock?: Clock
  random?: () => number
  /** Schedule a real timer so an ejection ends without waiting for the next pick (default true). */
  timers?: boolean
  service?: string
  observer?: BalancerObserver
  logger?: Logger
}

export const FAILURE_ACCRUAL_DEFAULTS = {
  consecutiveFailures: 5,
  failureRate: 0.5,
  rateWindow: 20,
  rateMinRequests: 10,
  backoffInitialMs: 1_000, // 1 s
  backoffMaxMs: 60_000, // 60 s
  jitter: 0.2,
} as const

export type EndpointState = 'ready' | 'ejected' | 'probing'

interface Accrual {
  endpoint: Endpoint
  state: EndpointState
  consecutive: number
  /** Last outcomes, true = failure, newest last. */
  outcomes: boolean[]
  /** Ejections in a row without a successful probe (drives the backoff). */
  ejections: number
  /** Clock time the current ejection ends, ms. */
  until: number
}

/**
 * A decorator: the inner balancer only sees endpoints that are not ejected. The backoff of the
 * n-th ejection in a row is min(max, initial × 2^(n−1)) less up to `jitter` of it. When it ends
 * the endpoint is `probing`: it takes traffic, the first success makes it `ready` and resets the
 * backoff, the first failure ejects it again. If every endpoint is ejected, all of them are handed
 * to the inner balancer anyway (fail open) and `observer.failOpen` counts it.
 */
export class FailureAccrualBalancer implements Balancer {
  private accruals = new Map<string, Accrual>()
  private admittedKeys = ''
  private failingOpen = false
  private timer: NodeJS.Timeout | undefined
  private readonly listeners = new Set<() => void>()
  private readonly o: Required<Omit<FailureAccrualOptions, 'logger' | 'clock' | 'random' | 'observer'>>
  private readonly clock: Clock
  private readonly random: () => number
  private readonly observer: BalancerObserver
  private readonly logger: Logger | undefined

  constructor (private readonly inner: Balancer, options: FailureAccrualOptions = {}) {
    this.o = {
      consecutiveFailures: options.consecutiveFailures ?? FAILURE_ACCRUAL_DEFAULTS.consecutiveFailures,
      failureRate: options.failureRate ?? FAILURE_ACCRUAL_DEFAULTS.failureRate,
      rateWindow: options.rateWindow ?? FAILURE_ACCRUAL_DEFAULTS.rateWindow,
      rateMinRequests: options.rateMinRequests ?? FAILURE_ACCRUAL_DEFAULTS.rateMinRequests,
      backoffInitialMs: options.backoffInitialMs ?? FAILURE_ACCRUAL_DEFAULTS.backoffInitialMs,
      backoffMaxMs: options.backoffMaxMs ?? FAILURE_ACCRUAL_DEFAULTS.backoffMaxMs,
      jitter: options.jitter ?? FAILURE_ACCRUAL_DEFAULTS.jitter,
      timers: options.timers ?? true,
      service: options.service ?? '',
    }
    this.clock = options.clock ?? systemClock
    this.random = options.random ?? Math.random
    this.observer = options.observer ?? noopBalancerObserver
    this.logger = options.logger
  }

  /** Endpoints handed to the inner balancer (all of them when failing open). */
  get size (): number {
    return this.inner.size
  }

  /** True while every endpoint is ejected and all are used anyway. */
  get failOpen (): boolean {
    return this.failingOpen
  }

  /** State of one endpoint, or undefined if unknown. */
  stateOf (key: string): EndpointState | undefined {
    return this.accruals.get(key)?.state
  }

  counts (): EndpointStateCounts {
    const counts = { ready: 0, ejected: 0, probing: 0 }
    for (const a of this.accruals.values()) counts[a.state] += 1
    return counts
  }

  /** Calls `listener` whenever endpoints may have become ready. Returns the unsubscribe. */
  onReady (listener: () => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  update (endpoints: readonly Endpoint[]): void {
    // Known keys keep their accrual object, so in-flight `done` calls land on live state.
    const next = new Map<string, Accrual>()
    for (const endpoint of endpoints) {
      const old = this.accruals.get(endpoint.key)
      if (old !== undefined) old.endpoint = endpoint
      next.set(endpoint.key, old ?? { endpoint, state: 'ready', consecutive: 0, outcomes: [], ejections: 0, until: 0 })
    }
    this.accruals = next
    this.admittedKeys = ''
    this.sync(true)
  }

  pick (kind: PickKind): Pick | undefined {
    this.readmitExpired()
    const inner = this.inner.pick(kind)
    if (inner === undefined) return undefined
    const accrual = this.accruals.get(inner.endpoint.key)
    return {
      endpoint: inner.endpoint,
      done: once((result: PickResult) => {
        inner.done(result)
        if (accrual !== undefined && this.accruals.get(accrual.endpoint.key) === accrual) this.record(accrual, result.ok)
      }),
    }
  }

  /** Stops the readmission timer. Safe twice. */
  close (): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.listeners.clear()
  }

  private record (a: Accrual, ok: boolean): void {
    if (a.state === 'ejected') return // late outcomes of requests sent before the ejection
    if (ok) {
      a.consecutive = 0
      if (a.state === 'probing') {
        a.state = 'ready'
        a.ejections = 0
        a.outcomes = []
        this.sync(false)
      }
    } else {
      a.consecutive += 1
    }
    a.outcomes.push(!ok)
    if (a.outcomes.length > this.o.rateWindow) a.outcomes.shift()
    if (ok) return
    if (a.state === 'probing') return this.eject(a, 'consecutive')
    if (this.o.consecutiveFailures > 0 && a.consecutive >= this.o.consecutiveFailures) return this.eject(a, 'consecutive')
    if (a.outcomes.length >= this.o.rateMinRequests) {
      const failures = a.outcomes.reduce((n, failed) => n + (failed ? 1 : 0), 0)
      if (failures / a.outcomes.length >= this.o.failureRate) this.eject(a, 'rate')
    }
  }

  /** Backoff of the next ejection, ms, jitter applied. */
  backoffMs (ejections: number): number {
    const base = Math.min(this.o.backoffMaxMs, this.o.backoffInitialMs * 2 ** Math.max(0, ejections - 1))
    return base * (1 - this.o.jitter * this.random())
  }

  private eject (a: Accrual, reason: 'consecutive' | 'rate'): void {
    a.ejections += 1
    a.state = 'ejected'
    a.consecutive = 0
    a.outcomes = []
    const delay = this.backoffMs(a.ejections)
    a.until = this.clock.now() + delay
    this.observer.ejected(this.o.service, a.endpoint.key, reason)
    this.logger?.warn({ code: 'E_ENDPOINT_EJECTED', service: this.o.service, endpoint: a.endpoint.key, reason, backoffMs: Math.round(delay) }, 'endpoint ejected')
    this.sync(false)
  }

  private readmitExpired (): boolean {
    const now = this.clock.now()
    let changed = false
    for (const a of this.accruals.values()) {
      if (a.state === 'ejected' && now >= a.until) {
        a.state = 'probing'
        changed = true
        this.observer.probing(this.o.service, a.endpoint.key)
      }
    }
    if (changed) this.sync(false)
    return changed
  }

  /** Hands the admitted set to the inner balancer when it changed (always when `force`). */
  private sync (force: boolean): void {
    const all = [...this.accruals.values()]
    let admitted = all.filter((a) => a.state !== 'ejected')
    const failOpen = admitted.length === 0 && all.length > 0
    if (failOpen) admitted = all
    if (failOpen && !this.failingOpen) {
      this.observer.failOpen(this.o.service)
      this.logger?.warn({ code: 'E_FAIL_OPEN', service: this.o.service, endpoints: all.length }, 'every endpoint is ejected; using all of them')
    }
    this.failingOpen = failOpen
    const keys = admitted.map((a) => a.endpoint.key).join('\n')
    const changed = keys !== this.admittedKeys
    if (force || changed) {
      this.admittedKeys = keys
      this.inner.update(admitted.map((a) => a.endpoint))
    }
    this.observer.endpointStates(this.o.service, this.counts())
    this.schedule()
    if (changed) for (const listener of this.listeners) listener()
  }

  private schedule (): void {
    if (!this.o.timers) return
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    let next = Infinity
    for (const a of this.accruals.values()) if (a.state === 'ejected') next = Math.min(next, a.until)
    if (next === Infinity) return
    const delay = Math.max(0, next - this.clock.now())
    this.timer = setTimeout(() => {
      this.timer = undefined
      // Fired a little early by the clock's reckoning: try again rather than wait for a pick.
      if (!this.readmitExpired()) this.schedule()
    }, delay + 1)
    this.timer.unref()
  }
}
