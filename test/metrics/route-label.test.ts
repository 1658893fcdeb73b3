// The `route` label: on the request, response and latency families, kept apart per route (also
// when the same labels otherwise repeat), and as rows of their own in `meshgate top`.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createMetrics } from '../../src/metrics/index.js'
import { diff, summarize } from '../../src/metrics/rates.js'
import { parseMetricsText } from '../../src/metrics/text-format.js'
import { renderTopFrame } from '../../src/top.js'
import { requestEndEvent, requestEvent } from './events.js'

test('requests, responses and latency carry the route; top shows a row per route', async () => {
  const m = createMetrics({ defaultMetrics: false })
  const before = summarize(parseMetricsText(await m.registry.metrics()), 0)
  for (let i = 0; i < 3; i++) m.telemetry.request(requestEvent({ route: 'api' }))
  m.telemetry.request(requestEvent({ route: 'static' }))
  m.telemetry.request(requestEvent())
  m.telemetry.requestEnd(requestEndEvent({ route: 'api' }))
  m.telemetry.requestEnd(requestEndEvent({ route: 'static' }))
  const text = await m.registry.metrics()
  assert.match(text, /meshgate_requests_total\{[^}]*route="api"\} 3/)
  assert.match(text, /meshgate_requests_total\{[^}]*route="static"\} 1/)
  assert.match(text, /meshgate_requests_total\{[^}]*route=""\} 1/)
  assert.match(text, /meshgate_responses_total\{[^}]*route="api"\} 1/)
  assert.match(text, /meshgate_request_duration_seconds_count\{[^}]*route="api"\} 3/)
  const { rows, point } = diff(before, summarize(parseMetricsText(text), 1000))
  assert.deepEqual(rows.map((r) => [r.route, r.rps]), [['api', 3], ['', 1], ['static', 1]])
  const frame = renderTopFrame(point, rows, 'http://admin')
  assert.match(frame, /web\.demo\s+outbound\s+3\.0\/s.*\s+api\n/)
  assert.match(frame, /web\.demo\s+outbound\s+1\.0\/s.*\s+-\n/)
})
