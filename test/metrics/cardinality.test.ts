// The authority cardinality guard under 10,000 distinct authorities.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createMetrics, OVERFLOW_LABEL } from '../../src/metrics/index.js'
import { requestEndEvent, requestEvent, scrape, tunnelEvent, value } from './events.js'

test('past maxAuthorities, new authorities are reported as "other"', async () => {
  const max = 100
  const m = createMetrics({ maxAuthorities: max, defaultMetrics: false })
  const n = 10_000
  for (let i = 0; i < n; i++) {
    const authority = `svc-${i}.demo`
    m.telemetry.request(requestEvent({ authority }))
    m.telemetry.requestEnd(requestEndEvent({ authority, responseBytes: 1 }))
    m.telemetry.tunnel(tunnelEvent({ authority, phase: 'open' }))
    m.telemetry.tunnel(tunnelEvent({ authority, phase: 'close', bytesIn: 2, bytesOut: 3, durationSeconds: 0.5 }))
  }
  // Authorities seen before the limit keep their own series afterwards.
  m.telemetry.request(requestEvent({ authority: 'svc-0.demo' }))
  const s = await scrape(m.registry)
  const authorities = new Set(s.filter((x) => 'authority' in x.labels).map((x) => x.labels.authority))
  assert.equal(authorities.size, max + 1)
  assert.ok(authorities.has(OVERFLOW_LABEL))
  assert.equal(value(s, 'meshgate_requests_total', { authority: 'svc-0.demo' }), 2)
  assert.equal(value(s, 'meshgate_requests_total', { authority: OVERFLOW_LABEL }), n - max)
  assert.equal(value(s, 'meshgate_response_body_bytes_total', { authority: OVERFLOW_LABEL }), n - max)
  assert.equal(value(s, 'meshgate_tcp_read_bytes_total', { authority: OVERFLOW_LABEL }), 2 * (n - max))
  assert.equal(value(s, 'meshgate_tcp_open_connections', { authority: OVERFLOW_LABEL }), 0)
  assert.equal(value(s, 'meshgate_metric_labels_folded_total', { label: 'authority' }), 4 * (n - max))
  const requestSeries = s.filter((x) => x.name === 'meshgate_requests_total').length
  assert.equal(requestSeries, max + 1)
  assert.ok(s.length < 10_000, `${s.length} samples`)
})
