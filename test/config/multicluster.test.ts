// The multi-cluster keys: the shipped example validates with the documented shape, and bad
// references are reported with file, path and what was expected.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ConfigError } from '../../core/errors.js'
import { loadConfig } from '../../src/config/load.js'

const EXAMPLE = join(resolve(fileURLToPath(import.meta.url), '../../../..'), 'examples', 'multicluster')
let dir: string
before(async () => { dir = await mkdtemp(join(tmpdir(), 'meshgate-config-mc-')) })
after(async () => { await rm(dir, { recursive: true, force: true }) })

test('examples/multicluster: west names the east cluster, the gateway exports web, east trusts both roots', async () => {
  const west = await loadConfig(join(EXAMPLE, 'west.yaml'))
  assert.deepEqual(west.clusters, { east: { gateway: '127.0.0.1:4250', identity: 'spiffe://east.local/ns/default/sa/gateway', transport: 'auto', refreshMs: 5000 } })
  assert.deepEqual(west.services.web, { aliases: ['web.east'], endpoints: [], cluster: 'east' })
  assert.equal(west.outbound?.listeners[0].port, 4240)
  assert.equal(west.admin?.port, 4291)
  assert.equal(west.outbound?.tls.ca, join(EXAMPLE, '.meshgate/pki/west.local/bundle.crt'))
  const gateway = await loadConfig(join(EXAMPLE, 'gateway.yaml'))
  assert.deepEqual(gateway.gateway?.listeners, [{ host: '127.0.0.1', port: 4250 }])
  assert.deepEqual(gateway.gateway?.exports.web, { allow: ['spiffe://west.local/ns/default/sa/client'], mode: 'e2e' })
  assert.deepEqual(Object.keys(gateway.gateway?.trustDomains ?? {}), ['west.local'])
  assert.equal(gateway.admin?.port, 4292)
  const east = await loadConfig(join(EXAMPLE, 'east.yaml'))
  assert.deepEqual(east.inbound?.listeners, [{ host: '127.0.0.1', port: 4260 }])
  assert.equal(east.demo?.httpPort, 8090)
  assert.equal(east.admin?.port, 4293)
  assert.deepEqual(east.devPki?.trustDomains, [{ trustDomain: 'west.local', dir: join(EXAMPLE, '.meshgate/pki/west.local'), workloads: [] }])
})

test('bad multi-cluster references: every problem with its path and what was expected', async () => {
  const file = join(dir, 'bad.yaml')
  await writeFile(file, `
clusters:
  east: { gateway: "127.0.0.1", identity: "spiffe://east.local/ns/default/sa/gateway", transport: quic }
services:
  a: { cluster: nowhere }
  b: { endpoints: [{ peer: "127.0.0.1:1", identity: "spiffe://x/ns/d/sa/b", target: "127.0.0.1:2" }], failover: west }
  c: { cluster: east, endpoints: [{ peer: "127.0.0.1:1", identity: "spiffe://x/ns/d/sa/b", target: "127.0.0.1:2" }] }
gateway:
  tls: { ca: ca.crt, cert: gw.crt, key: gw.key }
  listeners: [{ host: 127.0.0.1, port: 4250 }]
  trustDomains: { "Not A Domain": { ca: ca.crt } }
  exports:
    missing: { allow: ["spiffe://west.local"] }
    a: { allow: ["spiffe://west.local"], mode: passthrough }
`)
  const err = await loadConfig(file).then(() => undefined, (e: unknown) => e)
  assert.ok(err instanceof ConfigError)
  const byPath = new Map(err.problems.map((p) => [p.path, p]))
  const expectAt = (path: string, pattern: RegExp): void => {
    const p = byPath.get(path)
    assert.ok(p !== undefined, `no problem at ${path}; got ${[...byPath.keys()].join(', ')}`)
    assert.match(p.expected, pattern)
  }
  expectAt('clusters.east.gateway', /host:port/)
  expectAt('clusters.east.transport', /h2.*h3.*auto/)
  expectAt('services.c.endpoints', /no endpoints when cluster is set/)
  expectAt('gateway.trustDomains["Not A Domain"]', /trust domain/)
  expectAt('gateway.exports.a.mode', /e2e.*terminate/)
  assert.match(err.message, new RegExp(`${file}: `))
})

test('cross references: unknown clusters, exports of unknown or remote services', async () => {
  const file = join(dir, 'refs.yaml')
  await writeFile(file, `
clusters:
  east: { gateway: "127.0.0.1:4250", identity: "spiffe://east.local/ns/default/sa/gateway" }
services:
  a: { cluster: nowhere }
  b: { endpoints: [{ peer: "127.0.0.1:1", identity: "spiffe://x/ns/d/sa/b", target: "127.0.0.1:2" }], failover: west }
  r: { cluster: east }
gateway:
  tls: { ca: ca.crt, cert: gw.crt, key: gw.key }
  listeners: [{ host: 127.0.0.1, port: 4250 }]
  trustDomains: { west.local: { ca: ca.crt } }
  exports:
    missing: { allow: ["spiffe://west.local"] }
    r: { allow: ["spiffe://west.local"] }
`)
  const err = await loadConfig(file).then(() => undefined, (e: unknown) => e)
  assert.ok(err instanceof ConfigError, String(err))
  const found = Object.fromEntries(err.problems.map((p) => [p.path, p.expected]))
  assert.match(found['services.a.cluster'], /a cluster in clusters \(one of: east\)/)
  assert.match(found['services.b.failover'], /a cluster in clusters/)
  assert.match(found['gateway.exports.missing'], /a service in services/)
  assert.match(found['gateway.exports.r'], /never relays to another cluster/)
})
