// Balancer and discovery families after known observer calls.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createMetrics } from '../../src/metrics/index.js'
import { scrape, value } from './events.js'

test('balancer observer: picks, ejections, endpoint states, queue rejections', async () => {
  const m = createMetrics({ defaultMetrics: false })
  const b = m.balancerObserver
  for (let i = 0; i < 4; i++) b.picked('web', 'request', `10.0.0.${i}:4143`)
  b.picked('web', 'tunnel', '10.0.0.1:4143')
  b.ejected('web', '10.0.0.1:4143', 'consecutive')
  b.probing('web', '10.0.0.1:4143')
  b.failOpen('web')
  b.endpointStates('web', { ready: 2, ejected: 1, probing: 0 })
  b.endpointStates('web', { ready: 3, ejected: 0, probing: 0 })
  b.queueRejected('web', 'timeout')
  const s = await scrape(m.registry)
  assert.equal(value(s, 'meshgate_balancer_picks_total', { service: 'web', kind: 'request' }), 4)
  assert.equal(value(s, 'meshgate_balancer_picks_total', { service: 'web', kind: 'tunnel' }), 1)
  assert.equal(value(s, 'meshgate_balancer_ejections_total', { service: 'web', reason: 'consecutive' }), 1)
  assert.equal(value(s, 'meshgate_balancer_probes_total', { service: 'web' }), 1)
  assert.equal(value(s, 'meshgate_balancer_fail_open_total', { service: 'web' }), 1)
  assert.equal(value(s, 'meshgate_balancer_endpoints', { service: 'web', state: 'ready' }), 3)
  assert.equal(value(s, 'meshgate_balancer_endpoints', { service: 'web', state: 'ejected' }), 0)
  assert.equal(value(s, 'meshgate_balancer_queue_rejected_total', { service: 'web', reason: 'timeout' }), 1)
  assert.ok(!s.some((x) => 'endpoint' in x.labels), 'no per-endpoint label')
})

test('discovery observer: updates, errors, endpoint counts', async () => {
  const m = createMetrics({ defaultMetrics: false })
  const d = m.discoveryObserver
  d.updated('static', 'web', 'reset')
  d.updated('dns', 'api', 'add')
  d.updated('dns', 'api', 'add')
  d.endpoints('dns', 'api', 5)
  d.endpoints('dns', 'api', 4)
  d.error('dns', 'E_DISCOVERY_DNS_FAILED')
  const s = await scrape(m.registry)
  assert.equal(value(s, 'meshgate_discovery_updates_total', { source: 'dns', service: 'api', kind: 'add' }), 2)
  assert.equal(value(s, 'meshgate_discovery_updates_total', { source: 'static', service: 'web', kind: 'reset' }), 1)
  assert.equal(value(s, 'meshgate_discovery_endpoints', { source: 'dns', service: 'api' }), 4)
  assert.equal(value(s, 'meshgate_discovery_errors_total', { source: 'dns' }), 1)
})
