// A minimal config gets every default, relative paths become absolute, and the result is frozen.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseConfig } from '../../src/config/load.js'
import { DEFAULTS } from '../../src/config/defaults.js'
import { H3_DEFAULTS } from '../../transports/h3/options.js'

const MINIMAL = `
services:
  web:
    endpoints: [{ peer: "10.0.0.2:4143", identity: "spiffe://mesh.local/ns/default/sa/web", target: "127.0.0.1:8080" }]
outbound:
  tls: { ca: certs/ca.crt, cert: /etc/mesh/me.crt, key: certs/me.key }
  listeners: [{ host: 127.0.0.1, port: 4140 }]
`

test('defaults fill what the file leaves out', () => {
  const config = parseConfig(MINIMAL, '/srv/mesh/meshgate.yaml')
  assert.equal(config.file, '/srv/mesh/meshgate.yaml')
  assert.deepEqual(config.log, { level: 'info', access: false, accessSampleRate: 1 })
  assert.equal(config.dataPlane, 'auto')
  assert.equal(DEFAULTS.dataPlane, 'auto')
  assert.deepEqual(config.timeouts, { connectMs: 5_000, requestMs: 30_000, idleMs: 300_000, detectMs: 1_000, headerReadMs: 10_000 })
  // maxRequestsPerConnection is off unless set.
  assert.deepEqual(config.limits, { maxHeaderBytes: 65_536 })
  assert.deepEqual(config.h2, {
    connectionWindowBytes: 16 * 1024 * 1024,
    streamWindowBytes: 4 * 1024 * 1024,
    maxConcurrentStreams: 1000,
    keepAliveMs: 10_000,
    keepAliveTimeoutMs: 5_000,
  })
  assert.equal(config.drainMs, 30_000)
  // bbr2, not cubic: libngtcp2 0.12's CUBIC stalls near 42 KB of window on sub-100 µs paths (docs/h3.md).
  assert.equal(config.h3.congestionControl, 'bbr2')
  assert.equal(H3_DEFAULTS.congestionControl, config.h3.congestionControl)
  assert.deepEqual(config.metrics, { enabled: true, maxAuthorities: 100, maxIdentities: 1000 })
  assert.deepEqual(config.admin, { host: '127.0.0.1', port: 4191, remoteAccess: 'read' })
  assert.deepEqual(config.services.web.aliases, [])
  assert.equal(config.services.web.endpoints[0].weight, DEFAULTS.endpoint.weight)
  assert.equal(config.services.web.endpoints[0].transport, 'h2')
  assert.deepEqual(config.outbound?.listeners[0], { name: '127.0.0.1:4140', host: '127.0.0.1', port: 4140, protocol: 'auto' })
  assert.equal(config.inbound, undefined)
  assert.equal(config.devPki, undefined)
  assert.equal(config.demo, undefined)
})

test('dataPlane takes native, js or auto', () => {
  for (const value of ['native', 'js', 'auto'] as const) {
    assert.equal(parseConfig(`dataPlane: ${value}\n`, '/x/plane.yaml').dataPlane, value)
  }
})

test('relative paths resolve against the config file directory', () => {
  const config = parseConfig(MINIMAL, '/srv/mesh/meshgate.yaml')
  assert.deepEqual(config.outbound?.tls, { ca: '/srv/mesh/certs/ca.crt', cert: '/etc/mesh/me.crt', key: '/srv/mesh/certs/me.key' })
})

test('units are converted and admin: false turns the admin server off', () => {
  const config = parseConfig(`
timeouts: { connectMs: 2s, requestMs: 0, idleMs: 2m, detectMs: 250ms, headerReadMs: 1.5s }
limits: { maxHeaderBytes: 32KiB, maxRequestsPerConnection: 100 }
h2: { connectionWindowBytes: 1MB, keepAliveMs: 0 }
drainMs: 1500
admin: false
devPki: { dir: pki, workloads: [a] }
`, '/x/y.yaml')
  assert.deepEqual(config.timeouts, { connectMs: 2_000, requestMs: 0, idleMs: 120_000, detectMs: 250, headerReadMs: 1_500 })
  assert.equal(config.limits.maxHeaderBytes, 32_768)
  assert.equal(config.limits.maxRequestsPerConnection, 100)
  assert.equal(config.h2.connectionWindowBytes, 1_000_000)
  assert.equal(config.h2.keepAliveMs, 0)
  assert.equal(config.drainMs, 1500)
  assert.equal(config.admin, undefined)
  assert.deepEqual(config.devPki, { dir: '/x/pki', trustDomain: 'mesh.local', workloads: ['a'] })
})

test('an empty file is a valid config with no roles', () => {
  const config = parseConfig('', '/x/empty.yaml')
  assert.deepEqual(config.services, {})
  assert.equal(config.outbound, undefined)
})

test('the loaded config is deeply frozen', () => {
  const config = parseConfig(MINIMAL, '/srv/mesh/meshgate.yaml')
  assert.ok(Object.isFrozen(config))
  assert.ok(Object.isFrozen(config.services.web.endpoints[0]))
  assert.ok(Object.isFrozen(config.outbound?.listeners))
  assert.throws(() => { (config.timeouts as { connectMs: number }).connectMs = 1 }, TypeError)
})

test('YAML anchors and merge keys work', () => {
  const config = parseConfig(`
services:
  a: { endpoints: [{ <<: &server { peer: "10.0.0.2:4143", identity: "spiffe://mesh.local/ns/default/sa/s" }, target: "127.0.0.1:8080" }] }
  b: { endpoints: [{ <<: *server, target: "127.0.0.1:9000", weight: 3 }] }
`, '/x/anchors.yaml')
  assert.equal(config.services.a.endpoints[0].peer, '10.0.0.2:4143')
  assert.equal(config.services.b.endpoints[0].identity, 'spiffe://mesh.local/ns/default/sa/s')
  assert.equal(config.services.b.endpoints[0].weight, 3)
})
