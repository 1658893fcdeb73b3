// The traffic policy a config describes, or none when no service has routes (the plain fast path).
import { systemClock } from '../balance/clock.js'
import type { MeshConfig } from '../config/types.js'
import { TrafficPolicy, type RouteObserver } from './policy.js'

/** A policy for `config`'s routes (budgets carried over from `previous` where unchanged), or undefined. */
export function policyFor (config: Pick<MeshConfig, 'services' | 'dtab'>, observer: RouteObserver, previous: TrafficPolicy | undefined): TrafficPolicy | undefined {
  const routed = Object.values(config.services).some((s) => s.routes !== undefined && s.routes.length > 0)
  return routed ? new TrafficPolicy(config, { clock: systemClock, observer, previous }) : undefined
}
