/**
 * Balancer families fed by BalancerObserver: picks, ejections, probes, fail-open, endpoints per
 * state and queue rejections, by service (never by endpoint: endpoint sets are unbounded).
 */
import type { Registry } from 'prom-client'
import type { BalancerObserver } from '../balance/observer.js'
import { OVERFLOW_LABEL, type LabelGuard } from './label-guard.js'
import { CellCache, CounterFamily, GaugeFamily, type ValueCell } from './series.js'

export function balancerObserver (registry: Registry, services: LabelGuard): BalancerObserver {
  const picks = new CounterFamily({ registry, name: 'meshgate_balancer_picks_total', help: 'Endpoints handed out by the balancer, by service and kind (request or tunnel).', labelNames: ['service', 'kind'] })
  const ejections = new CounterFamily({ registry, name: 'meshgate_balancer_ejections_total', help: 'Endpoints taken out of rotation after failures, by service and reason.', labelNames: ['service', 'reason'] })
  const probes = new CounterFamily({ registry, name: 'meshgate_balancer_probes_total', help: 'Ejected endpoints let back in on probation, by service.', labelNames: ['service'] })
  const failOpen = new CounterFamily({ registry, name: 'meshgate_balancer_fail_open_total', help: 'Picks made while every endpoint of the service was ejected, by service.', labelNames: ['service'] })
  const endpoints = new GaugeFamily({ registry, name: 'meshgate_balancer_endpoints', help: 'Endpoints of a service by failure-accrual state (ready, ejected, probing).', labelNames: ['service', 'state'] })
  const rejected = new CounterFamily({ registry, name: 'meshgate_balancer_queue_rejected_total', help: 'Callers refused by the pick queue, by service and reason.', labelNames: ['service', 'reason'] })
  const cells = new CellCache()
  // Once per request: a two-level lookup, no label array or joined key built per pick.
  const pickCells = new Map<string, Map<string, ValueCell>>()
  const pickCell = (service: string, kind: string): ValueCell => {
    const cached = pickCells.get(service)?.get(kind)
    if (cached !== undefined) return cached
    const label = services.label(service)
    const cell = cells.get(picks, [label, kind])
    // Only services kept under their own name: a folded one goes through the guard every time, so
    // the folded-events counter still counts each event and the cache stays bounded.
    if (label === service && label !== OVERFLOW_LABEL) {
      let byKind = pickCells.get(service)
      if (byKind === undefined) {
        byKind = new Map()
        pickCells.set(service, byKind)
      }
      byKind.set(kind, cell)
    }
    return cell
  }
  return {
    picked: (service, kind) => { pickCell(service, kind).value++ },
    ejected: (service, _endpointKey, reason) => { cells.get(ejections, [services.label(service), reason]).value++ },
    probing: (service) => { cells.get(probes, [services.label(service)]).value++ },
    failOpen: (service) => { cells.get(failOpen, [services.label(service)]).value++ },
    endpointStates: (service, counts) => {
      const s = services.label(service)
      cells.get(endpoints, [s, 'ready']).value = counts.ready
      cells.get(endpoints, [s, 'ejected']).value = counts.ejected
      cells.get(endpoints, [s, 'probing']).value = counts.probing
    },
    queueRejected: (service, reason) => { cells.get(rejected, [services.label(service), reason]).value++ },
  }
}
