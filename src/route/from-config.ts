// The traffic policy a config describes, or none when no service has routes (the plain fast path).
import { systemClock } from '../balance/clock.js'
import type { MeshConfig } from '../config/types.js'
import { TrafficPolicy, type RouteObserver } from './policy.js'
import type { RoutePlugins } from './route-plugins.js'

/**
 * A policy for `config`'s routes (budgets carried over from `previous` where unchanged), or
 * undefined; routes take their plugin chains from `plugins` (loaded at start) by name.
 */
export function policyFor (config: Pick<MeshConfig, 'services' | 'dtab'>, observer: RouteObserver, previous: TrafficPolicy | undefined, plugins?: RoutePlugins): TrafficPolicy | undefined {
  const routed = Object.values(config.services).some((s) => s.routes !== undefined && s.routes.length > 0)
  return routed ? new TrafficPolicy(config, { clock: systemClock, observer, previous, plugins }) : undefined
}
