// The static source and the host:port parsing every source shares.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { StaticSource } from '../../src/discovery/static.js'
import { parseHostPort } from '../../src/discovery/address.js'
import { ConfigError } from '../../core/errors.js'
import type { DiscoveryUpdate } from '../../src/discovery/types.js'

test('host:port parsing, IPv6 in brackets', () => {
  assert.deepEqual(parseHostPort('127.0.0.1:4143'), { host: '127.0.0.1', port: 4143 })
  assert.deepEqual(parseHostPort('web.mesh:80'), { host: 'web.mesh', port: 80 })
  assert.deepEqual(parseHostPort('[::1]:443'), { host: '::1', port: 443 })
  for (const bad of ['::1:443', 'web', 'web:0', 'web:70000', ':80', 'a b:1', '[::1]']) assert.equal(parseHostPort(bad), undefined, bad)
})

test('serves configured services, keys endpoints by peer|target, unknown services do not exist', async () => {
  const source = new StaticSource({
    services: {
      web: { endpoints: [{ peer: '127.0.0.1:4143', identity: 'spiffe://t/ns/d/sa/web', target: '127.0.0.1:8080', weight: 2, transport: 'h2' }] },
    },
  })
  const updates: DiscoveryUpdate[] = []
  source.watch('web', (u) => updates.push(u))
  source.watch('nope', (u) => updates.push(u))
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(updates[0], {
    kind: 'reset',
    endpoints: [{ key: '127.0.0.1:4143|127.0.0.1:8080', peer: { host: '127.0.0.1', port: 4143 }, identity: 'spiffe://t/ns/d/sa/web', target: '127.0.0.1:8080', weight: 2, transport: 'h2' }],
  })
  assert.deepEqual(updates[1], { kind: 'doesNotExist' })
  await source.close()
  await source.close()
})

test('a bad peer is a ConfigError naming the YAML path', () => {
  assert.throws(() => new StaticSource({
    file: '/etc/meshgate.yaml',
    services: { web: { endpoints: [{ peer: 'nope', identity: 'spiffe://t/x', target: '127.0.0.1:1', weight: 1, transport: 'h2' }] } },
  }), (err: unknown) => err instanceof ConfigError && err.code === 'E_CONFIG' && err.problems[0]?.path === 'services.web.endpoints[0].peer' && err.message.includes('/etc/meshgate.yaml'))
})
