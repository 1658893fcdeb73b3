/**
 * The `process_*` and `nodejs_*` runtime metrics: what prom-client's collectDefaultMetrics
 * registers, collector by collector. Its CPU collector loads @opentelemetry/api for exemplars
 * meshgate never turns on, so the three `process_cpu_*` counters are built here instead (same
 * names, help and values); test/metrics/prom.test.ts keeps the list equal to prom-client's.
 */
import { Counter, runtimeCollector, type Registry } from './prom.js'

/** prom-client's collectors after its CPU one, in its order (`processResources` needs Node ≥ 17.3). */
const COLLECTORS = [
  'processStartTime', 'osMemoryHeap', 'processOpenFileDescriptors', 'processMaxFileDescriptors', 'eventLoopLag',
  ...(typeof process.getActiveResourcesInfo === 'function' ? ['processResources'] : []),
  'processHandles', 'processRequests', 'heapSizeAndUsed', 'heapSpacesSizeAndUsed', 'version', 'gc',
]

/** `process_cpu_{user,system}_seconds_total` and their sum, read from process.cpuUsage() at scrape time. */
function processCpu (registry: Registry): void {
  let last = process.cpuUsage()
  const user: Counter = new Counter({
    name: 'process_cpu_user_seconds_total',
    help: 'Total user CPU time spent in seconds.',
    registers: [registry],
    // One collect sets all three, as prom-client's collector does.
    collect () {
      const now = process.cpuUsage()
      const userMicros = now.user - last.user
      const systemMicros = now.system - last.system
      last = now
      user.inc(userMicros / 1e6)
      system.inc(systemMicros / 1e6)
      total.inc((userMicros + systemMicros) / 1e6)
    },
  })
  const system = new Counter({ name: 'process_cpu_system_seconds_total', help: 'Total system CPU time spent in seconds.', registers: [registry] })
  const total = new Counter({ name: 'process_cpu_seconds_total', help: 'Total user and system CPU time spent in seconds.', registers: [registry] })
}

/** Registers every runtime metric on `registry` (event loop lag sampled every 10 ms, as prom-client's default). */
export function registerRuntimeMetrics (registry: Registry): void {
  processCpu(registry)
  for (const name of COLLECTORS) runtimeCollector(name)(registry, { eventLoopMonitoringPrecision: 10 })
}
