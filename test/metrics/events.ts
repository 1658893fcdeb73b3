/** Event factories and a metrics-text reader shared by the metrics and admin tests. */
import type { Registry } from 'prom-client'
import { parseMetricsText, type Sample } from '../../src/metrics/text-format.js'
import type { RequestEndEvent, RequestEvent, TunnelEvent } from '../../src/telemetry.js'

export function requestEvent (over: Partial<RequestEvent> = {}): RequestEvent {
  return {
    direction: 'outbound',
    protocol: 'http1',
    authority: 'web.demo',
    method: 'GET',
    path: '/',
    identity: 'spiffe://test.local/ns/default/sa/client',
    peerIdentity: 'spiffe://test.local/ns/default/sa/server',
    transport: 'h2',
    status: 200,
    durationSeconds: 0.003,
    requestId: 'r1',
    ...over,
  }
}

export function requestEndEvent (over: Partial<RequestEndEvent> = {}): RequestEndEvent {
  return { direction: 'outbound', authority: 'web.demo', status: 200, requestBytes: 0, responseBytes: 0, totalSeconds: 0.004, ...over }
}

export function tunnelEvent (over: Partial<TunnelEvent> = {}): TunnelEvent {
  return {
    direction: 'outbound',
    authority: 'db.demo:5432',
    identity: 'spiffe://test.local/ns/default/sa/client',
    peerIdentity: 'spiffe://test.local/ns/default/sa/server',
    transport: 'h2',
    phase: 'open',
    bytesIn: 0,
    bytesOut: 0,
    durationSeconds: 0,
    ...over,
  }
}

/** Every sample of the registry's text output. */
export async function scrape (registry: Registry): Promise<Sample[]> {
  return parseMetricsText(await registry.metrics())
}

/** The value of the one sample named `name` whose labels include `labels`; undefined if none. */
export function value (samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`)
  return found[0]?.value
}
