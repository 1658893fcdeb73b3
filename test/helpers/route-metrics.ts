/** Reading counters of a running proxy's registry by name and labels, for route tests. */
import type { RunningProxy } from '../../src/proxy.js'

/** The sum of every sample of `name` whose labels include all of `labels`. */
export async function counter (proxy: RunningProxy, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await proxy.metrics.registry.metrics()
  let sum = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue
    sum += Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return sum
}
