/** Discovery families fed by DiscoveryObserver: updates, errors and endpoint counts per source and service. */
import type { Registry } from 'prom-client'
import type { DiscoveryObserver } from '../discovery/observer.js'
import type { LabelGuard } from './label-guard.js'
import { CellCache, CounterFamily, GaugeFamily } from './series.js'

export function discoveryObserver (registry: Registry, services: LabelGuard): DiscoveryObserver {
  const updates = new CounterFamily({ registry, name: 'meshgate_discovery_updates_total', help: 'Updates pushed by discovery sources, by source, service and kind (reset, add, remove, doesNotExist).', labelNames: ['source', 'service', 'kind'] })
  const errors = new CounterFamily({ registry, name: 'meshgate_discovery_errors_total', help: 'Problems a discovery source hit while keeping its last good set, by source and error code.', labelNames: ['source', 'code'] })
  const endpoints = new GaugeFamily({ registry, name: 'meshgate_discovery_endpoints', help: 'Endpoints a discovery source reports for a service now.', labelNames: ['source', 'service'] })
  const cells = new CellCache()
  return {
    updated: (source, service, kind) => { cells.get(updates, [source, services.label(service), kind]).value++ },
    error: (source, code) => { cells.get(errors, [source, code]).value++ },
    endpoints: (source, service, count) => { cells.get(endpoints, [source, services.label(service)]).value = count },
  }
}
