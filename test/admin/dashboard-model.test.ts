// The dashboard's data model in Node: the same functions the page runs (script.ts embeds them).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Script } from 'node:vm'
import { DASHBOARD_SCRIPT } from '../../src/admin/dashboard/index.js'
import { createMetrics } from '../../src/metrics/index.js'
import { diff, formatValue, summarize } from '../../src/metrics/rates.js'
import { parseMetricsText } from '../../src/metrics/text-format.js'
import { requestEvent, tunnelEvent } from '../metrics/events.js'

test('rates, success and quantiles from two scrapes', async () => {
  const m = createMetrics({ defaultMetrics: false })
  const first = summarize(parseMetricsText(await m.registry.metrics()), 0)
  for (let i = 0; i < 90; i++) m.telemetry.request(requestEvent({ authority: 'web.demo', durationSeconds: 0.002 }))
  for (let i = 0; i < 10; i++) m.telemetry.request(requestEvent({ authority: 'web.demo', status: 502, errorCode: 'E_PEER_RESET', durationSeconds: 0.2 }))
  for (let i = 0; i < 50; i++) m.telemetry.request(requestEvent({ authority: 'api.demo', status: 404, durationSeconds: 0.02 }))
  m.telemetry.tunnel(tunnelEvent({ phase: 'open' }))
  m.telemetry.tunnel(tunnelEvent({ phase: 'open' }))
  m.telemetry.tunnel(tunnelEvent({ phase: 'close', bytesIn: 1000, bytesOut: 3000, durationSeconds: 1 }))
  m.transportObserver.sessionOpened?.('h2', 'client')
  const second = summarize(parseMetricsText(await m.registry.metrics()), 2000)
  const { point, rows } = diff(first, second)
  assert.equal(point.rps, 75)
  assert.equal(point.success, 140 / 150)
  assert.equal(point.tunnels, 1)
  assert.equal(point.readBps, 500)
  assert.equal(point.writeBps, 1500)
  assert.deepEqual(rows.map((r) => [r.authority, r.rps, r.success]), [['web.demo', 50, 0.9], ['api.demo', 25, 1]])
  const web = rows[0]
  assert.ok(web.p50 > 0.001 && web.p50 <= 0.0025, `p50 ${web.p50}`)
  assert.ok(web.p99 > 0.1 && web.p99 <= 0.25, `p99 ${web.p99}`)
  assert.deepEqual(Object.values(second.sessions), [{ transport: 'h2', side: 'client', sessions: 1, streams: 0 }])
})

test('a counter reset counts from zero, never negative', () => {
  const at = (total: number, t: number): ReturnType<typeof summarize> =>
    summarize([{ name: 'meshgate_requests_total', labels: { direction: 'outbound', authority: 'a', status_class: '2xx' }, value: total }], t)
  const { point } = diff(at(1000, 0), at(10, 1000))
  assert.equal(point.rps, 10)
})

test('formatting', () => {
  assert.equal(formatValue(0.0123, 's'), '12.3 ms')
  assert.equal(formatValue(0.0005, 's'), '0.50 ms')
  assert.equal(formatValue(0.9, '%'), '90.0%')
  assert.equal(formatValue(1, '%'), '100%')
  assert.equal(formatValue(2_500_000, 'B/s'), '2.5 MB/s')
  assert.equal(formatValue(NaN, '/s'), '–')
})

test('the embedded script parses and holds every function it calls', () => {
  assert.doesNotThrow(() => new Script(DASHBOARD_SCRIPT, { filename: 'dashboard.js' }), 'compiles (not run)')
  for (const name of ['parseMetricsText', 'histogramQuantile', 'summarize', 'diff', 'formatValue', 'drawChart', 'fillTable', 'tapCells', 'dashboardMain']) {
    assert.match(DASHBOARD_SCRIPT, new RegExp(`^function ${name}\\(`, 'm'), name)
  }
  assert.doesNotMatch(DASHBOARD_SCRIPT, /\bimport\b|\bexport\b|innerHTML/)
})
