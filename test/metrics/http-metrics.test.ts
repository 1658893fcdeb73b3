// Request and response families: exact counts, histogram buckets, body bytes after known events.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createMetrics } from '../../src/metrics/index.js'
import { requestEndEvent, requestEvent, scrape, value } from './events.js'

test('requests are counted by authority, status and caller', async () => {
  const m = createMetrics({ defaultMetrics: false })
  for (let i = 0; i < 7; i++) m.telemetry.request(requestEvent())
  for (let i = 0; i < 3; i++) m.telemetry.request(requestEvent({ status: 503, errorCode: 'E_NO_ENDPOINT' }))
  m.telemetry.request(requestEvent({ direction: 'inbound', authority: 'api.demo', status: 404 }))
  const s = await scrape(m.registry)
  assert.equal(value(s, 'meshgate_requests_total', { authority: 'web.demo', status_code: '200' }), 7)
  assert.equal(value(s, 'meshgate_requests_total', { authority: 'web.demo', status_code: '503', status_class: '5xx', error_code: 'E_NO_ENDPOINT' }), 3)
  assert.equal(value(s, 'meshgate_requests_total', { direction: 'inbound', authority: 'api.demo', status_class: '4xx', error_code: '' }), 1)
  const one = s.find((x) => x.name === 'meshgate_requests_total' && x.labels.status_code === '200')
  assert.deepEqual(one?.labels, {
    direction: 'outbound',
    authority: 'web.demo',
    status_code: '200',
    status_class: '2xx',
    error_code: '',
    identity: 'spiffe://test.local/ns/default/sa/client',
    peer_identity: 'spiffe://test.local/ns/default/sa/server',
    transport: 'h2',
    route: '',
  })
})

test('request durations land in the right buckets', async () => {
  const m = createMetrics({ defaultMetrics: false })
  // 0.0004 ≤ 0.0005; 0.0005 is on a bound (le is inclusive); 0.003 → 0.005; 0.2 → 0.25; 20 → +Inf only.
  for (const d of [0.0004, 0.0005, 0.003, 0.003, 0.2, 20]) m.telemetry.request(requestEvent({ durationSeconds: d }))
  const s = await scrape(m.registry)
  const bucket = (le: string): number | undefined => value(s, 'meshgate_request_duration_seconds_bucket', { authority: 'web.demo', le })
  assert.equal(bucket('0.0005'), 2)
  assert.equal(bucket('0.001'), 2)
  assert.equal(bucket('0.0025'), 2)
  assert.equal(bucket('0.005'), 4)
  assert.equal(bucket('0.1'), 4)
  assert.equal(bucket('0.25'), 5)
  assert.equal(bucket('10'), 5)
  assert.equal(bucket('+Inf'), 6)
  assert.equal(value(s, 'meshgate_request_duration_seconds_count', { authority: 'web.demo' }), 6)
  const sum = value(s, 'meshgate_request_duration_seconds_sum', { authority: 'web.demo' }) ?? NaN
  assert.ok(Math.abs(sum - 20.2069) < 1e-9, `sum ${sum}`)
  const bounds = s.filter((x) => x.name === 'meshgate_request_duration_seconds_bucket').map((x) => x.labels.le)
  assert.equal(bounds[0], '0.0005')
  assert.equal(bounds.at(-2), '10')
})

test('response bodies: counts and bytes equal what was reported', async () => {
  const m = createMetrics({ defaultMetrics: false })
  let sent = 0
  let received = 0
  for (let i = 1; i <= 50; i++) {
    sent += i * 100
    received += i * 1000
    m.telemetry.requestEnd(requestEndEvent({ requestBytes: i * 100, responseBytes: i * 1000, identity: 'spiffe://a', transport: 'h2' }))
  }
  m.telemetry.requestEnd(requestEndEvent({ authority: 'other.demo', status: 500, requestBytes: 5, responseBytes: 7 }))
  const s = await scrape(m.registry)
  assert.equal(value(s, 'meshgate_responses_total', { authority: 'web.demo', status_code: '200', identity: 'spiffe://a', transport: 'h2' }), 50)
  assert.equal(value(s, 'meshgate_responses_total', { authority: 'other.demo', status_class: '5xx' }), 1)
  assert.equal(value(s, 'meshgate_request_body_bytes_total', { authority: 'web.demo' }), sent)
  assert.equal(value(s, 'meshgate_response_body_bytes_total', { authority: 'web.demo' }), received)
  assert.equal(value(s, 'meshgate_request_body_bytes_total', { authority: 'other.demo' }), 5)
})

test('every family has help text and the meshgate_ prefix; runtime metrics are there', async () => {
  const m = createMetrics()
  const text = await m.registry.metrics()
  const families = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((x) => x[1])
  const ours = families.filter((n) => n.startsWith('meshgate_'))
  assert.ok(ours.length >= 18, ours.join(' '))
  for (const name of ours) assert.match(text, new RegExp(`^# HELP ${name} \\S.+$`, 'm'))
  assert.ok(families.includes('process_cpu_seconds_total'))
  assert.ok(families.includes('nodejs_eventloop_lag_seconds'))
  for (const name of families.filter((n) => !n.startsWith('meshgate_'))) assert.match(name, /^(process|nodejs)_/)
})

test('enabled: false gives no-op hooks and an empty registry', async () => {
  const m = createMetrics({ enabled: false })
  m.telemetry.request(requestEvent())
  m.transportObserver.sessionOpened?.('h2', 'client')
  assert.equal(m.enabled, false)
  assert.equal((await m.registry.metrics()).trim(), '')
})
