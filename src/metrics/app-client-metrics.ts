/**
 * App-client families of the outbound listeners: connections and h2c sessions closed by a limit
 * (premature-reset rule, header-read timeout, max requests per connection, the native h2c front's
 * empty-frame flood rule) and h2c streams the app reset.
 */
import type { Registry } from 'prom-client'
import type { AppClientObserver } from '../outbound/app-observer.js'
import { CounterFamily } from './series.js'

export function appClientObserver (registry: Registry): AppClientObserver {
  const closed = new CounterFamily({
    registry,
    name: 'meshgate_app_sessions_closed_total',
    help: 'App connections and h2c sessions of the outbound listeners closed by a limit, by reason (rapid_reset, header_timeout, max_requests, flood).',
    labelNames: ['reason'],
  })
  const resets = new CounterFamily({
    registry,
    name: 'meshgate_app_stream_resets_total',
    help: 'h2c streams the app client reset (RST_STREAM) before their exchange ended.',
    labelNames: [],
  })
  const reset = resets.cell([])
  return {
    sessionClosed: (reason) => { closed.cell([reason]).value++ },
    streamReset: () => { reset.value++ },
  }
}
