/**
 * Proxy-Wasm plugin families: failed callbacks (traps, timeouts) per plugin, and plugins
 * disabled after too many of them (1 while disabled).
 */
import type { Registry } from 'prom-client'
import type { PluginObserver } from '../plugins/observer.js'
import { CounterFamily, GaugeFamily } from './series.js'

export function pluginObserver (registry: Registry): PluginObserver {
  const failures = new CounterFamily({
    registry,
    name: 'meshgate_plugin_failures_total',
    help: 'Proxy-Wasm plugin callbacks that failed their request, by plugin and kind (trap or timeout).',
    labelNames: ['plugin', 'kind'],
  })
  const disabled = new GaugeFamily({
    registry,
    name: 'meshgate_plugin_disabled',
    help: 'Proxy-Wasm plugins disabled after reaching their trap limit (1 = disabled).',
    labelNames: ['plugin'],
  })
  return {
    failure: (plugin, kind) => { failures.cell([plugin, kind]).value++ },
    disabled: (plugin) => { disabled.cell([plugin]).value = 1 },
  }
}
