/**
 * The JS heap in use of a Node process that serves Prometheus metrics (prom-client's default
 * `nodejs_heap_size_used_bytes`), read from its admin server. Beside RSS it tells whether memory
 * that grows across runs is live JS objects or memory the allocator keeps.
 */

/** Heap in use, bytes, or undefined if the endpoint does not answer or lacks the metric. */
export async function readHeapUsedBytes (metricsUrl: string, timeoutMs = 2_000): Promise<number | undefined> {
  try {
    const response = await fetch(metricsUrl, { signal: AbortSignal.timeout(timeoutMs) })
    if (!response.ok) return undefined
    const match = /^nodejs_heap_size_used_bytes(?:\{[^}]*\})? ([\d.e+]+)/m.exec(await response.text())
    return match === null ? undefined : Number(match[1])
  } catch {
    return undefined
  }
}
