// What balancers report for metrics: an interface the metrics module binds to prom-client.
import type { PickKind } from './types.js'

/** Counts of a service's endpoints by state (failure accrual). */
export interface EndpointStateCounts {
  ready: number
  ejected: number
  probing: number
}

/**
 * Balancer events and state. Every method is called synchronously on the hot path: keep the
 * implementation to a counter increment or a gauge set.
 */
export interface BalancerObserver {
  /** One endpoint was handed out. */
  picked: (service: string, kind: PickKind, endpointKey: string) => void
  /** An endpoint was taken out of rotation after failures. */
  ejected: (service: string, endpointKey: string, reason: 'consecutive' | 'rate') => void
  /** An ejected endpoint's backoff ended; it takes traffic again on probation. */
  probing: (service: string, endpointKey: string) => void
  /** Every endpoint of the service is ejected, so all of them are used anyway. */
  failOpen: (service: string) => void
  /** The endpoints of a service per state changed. */
  endpointStates: (service: string, counts: EndpointStateCounts) => void
  /** A caller waited in the queue and gave up (E_NO_ENDPOINT), or the queue was full. */
  queueRejected: (service: string, reason: 'timeout' | 'full' | 'closed' | 'missing') => void
}

/** An observer that records nothing. */
export const noopBalancerObserver: BalancerObserver = {
  picked: () => {},
  ejected: () => {},
  probing: () => {},
  failOpen: () => {},
  endpointStates: () => {},
  queueRejected: () => {},
}
