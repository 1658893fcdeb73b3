/**
 * `meshgate_http_data_path_total{path, reason}`: which data path carried each outbound HTTP/1
 * request or h2c stream the engine took (docs/native-http.md §7): `native` (reason `plain`), or `js` with the reason the engine
 * handed the connection back (upgrade, route_features, session_kind).
 * `meshgate_inbound_http_data_path_total{path}`: the same for inbound requests, by who delivered
 * them to the workload: the engine (`native`, a session's later requests to a granted target) or JS.
 */
import type { Registry } from 'prom-client'
import type { DataPathObserver } from '../outbound/native-http.js'
import { CounterFamily, type ValueCell } from './series.js'

export function dataPathObserver (registry: Registry): DataPathObserver {
  const family = new CounterFamily({
    registry,
    name: 'meshgate_http_data_path_total',
    help: 'Outbound HTTP/1 requests and h2c streams by the data path that carried them (native engine or JS) and why.',
    labelNames: ['path', 'reason'],
  })
  const cells = new Map<string, ValueCell>()
  const inbound = new CounterFamily({
    registry,
    name: 'meshgate_inbound_http_data_path_total',
    help: 'Inbound HTTP requests by the data path that delivered them to the workload (native engine or JS).',
    labelNames: ['path'],
  })
  const inboundNative = inbound.cell(['native'])
  const inboundJs = inbound.cell(['js'])
  return {
    inbound: (path) => {
      if (path === 'native') inboundNative.value++
      else inboundJs.value++
    },
    request: (path, reason) => {
      const key = `${path}|${reason}`
      let cell = cells.get(key)
      if (cell === undefined) {
        cell = family.cell([path, reason])
        cells.set(key, cell)
      }
      cell.value++
    },
  }
}

export const noopDataPathObserver: DataPathObserver = { request: () => {} }
