/**
 * Traffic-policy counters: retries sent and retries the budget refused, per service and route,
 * and requests the inbound rate limiter refused, per caller identity.
 */
import type { Registry } from 'prom-client'
import type { LabelGuard } from './label-guard.js'
import { CounterFamily, type ValueCell } from './series.js'

export interface RouteCounters {
  retry: (service: string, route: string, reason: string) => void
  budgetExhausted: (service: string, route: string) => void
  rateLimited: (identity: string, limit: string) => void
}

export const noopRouteCounters: RouteCounters = { retry: () => {}, budgetExhausted: () => {}, rateLimited: () => {} }

function cached (family: CounterFamily): (labels: string[]) => ValueCell {
  const cells = new Map<string, ValueCell>()
  return (labels) => {
    const key = labels.join('\u0001')
    let cell = cells.get(key)
    if (cell === undefined) cells.set(key, cell = family.cell(labels))
    return cell
  }
}

export function routeCounters (registry: Registry, identities: LabelGuard): RouteCounters {
  const retries = cached(new CounterFamily({
    registry,
    name: 'meshgate_retries_total',
    help: 'Retries sent by the outbound side, by service, route and the condition that caused them (5xx, connect-failure, reset, timeout, grpc).',
    labelNames: ['service', 'route', 'reason'],
  }))
  const exhausted = cached(new CounterFamily({
    registry,
    name: 'meshgate_retry_budget_exhausted_total',
    help: 'Retries not sent because the retry budget had no room, by service and route.',
    labelNames: ['service', 'route'],
  }))
  const limited = cached(new CounterFamily({
    registry,
    name: 'meshgate_rate_limited_total',
    help: 'Inbound requests answered 429 E_RATE_LIMITED, by caller identity and the limit that refused them (total, identity).',
    labelNames: ['identity', 'limit'],
  }))
  return {
    retry: (service, route, reason) => { retries([service, route, reason]).value++ },
    budgetExhausted: (service, route) => { exhausted([service, route]).value++ },
    rateLimited: (identity, limit) => { limited([identities.label(identity), limit]).value++ },
  }
}
