// Every shipped example config validates, and the embedded default has the documented shape.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadConfig } from '../../src/config/load.js'

// dist/test/config → repository root
const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..')
const EXAMPLES = join(ROOT, 'examples')

test('every example config validates', async () => {
  const files = (await readdir(EXAMPLES)).filter((f) => f.endsWith('.yaml'))
  assert.ok(files.includes('default.yaml'))
  assert.ok(files.length >= 3)
  for (const file of files) {
    const config = await loadConfig(join(EXAMPLES, file))
    assert.equal(config.file, join(EXAMPLES, file))
  }
})

test('the embedded default config', async () => {
  const config = await loadConfig(join(EXAMPLES, 'default.yaml'))
  const pki = join(ROOT, '.meshgate', 'pki')
  assert.deepEqual(config.devPki, { dir: pki, trustDomain: 'mesh.local', workloads: ['demo-client', 'demo-server'] })
  assert.deepEqual(config.services.demo, {
    aliases: ['demo.local', 'demo.local:4140'],
    endpoints: [{ peer: '127.0.0.1:4143', identity: 'spiffe://mesh.local/ns/default/sa/demo-server', target: '127.0.0.1:8080', weight: 1, transport: 'h2' }],
  })
  assert.equal(config.services['demo-tcp'].endpoints[0].target, '127.0.0.1:9000')
  assert.deepEqual(config.outbound?.tls, { ca: join(pki, 'ca.crt'), cert: join(pki, 'demo-client.crt'), key: join(pki, 'demo-client.key') })
  assert.deepEqual(config.outbound?.listeners, [
    { name: 'app', host: '127.0.0.1', port: 4140, protocol: 'auto', tcpService: 'demo-tcp' },
    { name: 'tcp', host: '127.0.0.1', port: 4141, protocol: 'tcp', tcpService: 'demo-tcp' },
  ])
  assert.equal(config.inbound?.tls.cert, join(pki, 'demo-server.crt'))
  assert.deepEqual(config.inbound?.listeners, [{ host: '127.0.0.1', port: 4143 }])
  assert.deepEqual(config.inbound?.targets, [
    { address: '127.0.0.1:8080', protocol: 'auto', allow: ['spiffe://mesh.local'] },
    { address: '127.0.0.1:9000', protocol: 'tcp', allow: ['spiffe://mesh.local'] },
  ])
  assert.deepEqual(config.admin, { host: '127.0.0.1', port: 4191, remoteAccess: 'read' })
  assert.deepEqual(config.demo, { host: '127.0.0.1', httpPort: 8080, tcpPort: 9000, trafficPerSecond: 4, trafficAuthority: 'demo.local', version: 'v1', instances: [] })
})
