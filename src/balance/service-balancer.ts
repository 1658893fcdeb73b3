// The default stack for one service: queue → failure accrual → (peak-EWMA | least-loaded).
import type { Endpoint } from '../discovery/types.js'
import type { Logger } from '../log.js'
import { ByKindBalancer } from './by-kind.js'
import type { Clock } from './clock.js'
import { FailureAccrualBalancer, type FailureAccrualOptions } from './failure-accrual.js'
import { LeastLoadedBalancer } from './least-loaded.js'
import type { BalancerObserver, EndpointStateCounts } from './observer.js'
import { PeakEwmaBalancer, type PeakEwmaOptions } from './peak-ewma.js'
import { PickQueue, type PickQueueOptions } from './queue.js'
import type { Random } from './random.js'
import { RoundRobinBalancer } from './round-robin.js'
import type { AbortSignalLike, Balancer, Pick, PickKind } from './types.js'

type Injected = 'clock' | 'random' | 'service' | 'observer' | 'logger'

/** How request picks are made: P2C over peak-EWMA (default) or smooth weighted round robin (the baseline). */
export type RequestBalancing = 'peak-ewma' | 'round-robin'

/** Tuning of the per-service stack; every field has a default (see each balancer). */
export interface BalancingOptions {
  /** Request balancer (default `peak-ewma`; `round-robin` is blind to latency, for comparison). */
  requests?: RequestBalancing
  peakEwma?: Omit<PeakEwmaOptions, Injected>
  failureAccrual?: Omit<FailureAccrualOptions, Injected>
  queue?: Omit<PickQueueOptions, Injected>
}

/** What the stack is given rather than configured with. */
export interface BalancingComponents {
  clock?: Clock
  random?: Random
  observer?: BalancerObserver
  logger?: Logger
}

/**
 * Requests go to P2C over peak-EWMA (or round robin when asked), tunnels to P2C over least-loaded; both see the same
 * endpoints minus those failure accrual ejected; `acquire()` waits in a bounded queue.
 */
export class ServiceBalancer implements Balancer {
  readonly service: string
  private readonly accrual: FailureAccrualBalancer
  private readonly queue: PickQueue

  constructor (service: string, options: BalancingOptions = {}, components: BalancingComponents = {}) {
    this.service = service
    const common = { service, clock: components.clock, random: components.random, observer: components.observer }
    const requests = options.requests === 'round-robin'
      ? new RoundRobinBalancer({ service, observer: common.observer })
      : new PeakEwmaBalancer({ ...options.peakEwma, ...common })
    const byKind = new ByKindBalancer(
      requests,
      new LeastLoadedBalancer({ random: common.random, service, observer: common.observer })
    )
    this.accrual = new FailureAccrualBalancer(byKind, { ...options.failureAccrual, ...common, logger: components.logger })
    this.queue = new PickQueue(this.accrual, { ...options.queue, service, observer: common.observer })
  }

  /** Endpoints in rotation (all of them when failing open). */
  get size (): number {
    return this.queue.size
  }

  update (endpoints: readonly Endpoint[]): void {
    this.queue.update(endpoints)
  }

  /** An endpoint now, or undefined. */
  pick (kind: PickKind): Pick | undefined {
    return this.queue.pick(kind)
  }

  /** An endpoint now, unless callers wait for one (see PickQueue.tryAcquire). */
  tryAcquire (kind: PickKind): Pick | undefined {
    return this.queue.tryAcquire(kind)
  }

  /** An endpoint now or within the queue's wait; rejects with MeshError('E_NO_ENDPOINT'). */
  acquire (kind: PickKind, signal?: AbortSignalLike): Promise<Pick> {
    return this.queue.acquire(kind, signal)
  }

  /** Fails the callers waiting now (the service disappeared from discovery). */
  rejectWaiting (message: string): void {
    this.queue.rejectWaiting('missing', message)
  }

  counts (): EndpointStateCounts {
    return this.accrual.counts()
  }

  /** Fails waiters, stops timers. Safe twice. */
  close (): void {
    this.queue.close()
    this.accrual.close()
  }
}
