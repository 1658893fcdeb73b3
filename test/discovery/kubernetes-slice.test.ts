// Reading single EndpointSlices: ports by name or number, readiness, IPv6, what counts as invalid.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readEndpointSlice, type KubernetesServiceOptions } from '../../src/discovery/kubernetes-slice.js'
import { endpointSlice } from './fake-kube-api.js'

const config: KubernetesServiceOptions = { name: 'web', peerPort: 4143, identity: 'spiffe://c/ns/{namespace}/sa/{pod}' }

test('target port: first by default, by name, by number; a missing one gives no endpoints', () => {
  const slice = endpointSlice('s', 'web', ['10.0.0.1'])
  const target = (options: Partial<KubernetesServiceOptions>): string[] => {
    const r = readEndpointSlice(slice, { ...config, ...options }, 'ns')
    assert.ok(r.ok)
    return r.endpoints.map((e) => e.target)
  }
  assert.deepEqual(target({}), ['10.0.0.1:9100'])
  assert.deepEqual(target({ targetPort: 'http' }), ['10.0.0.1:8080'])
  assert.deepEqual(target({ targetPort: 8080 }), ['10.0.0.1:8080'])
  assert.deepEqual(target({ targetPort: 'grpc' }), [])
})

test('not-ready endpoints are left out unless includeNotReady and serving; unset ready counts as ready', () => {
  const slice = endpointSlice('s', 'web', ['10.0.0.1'], ['10.0.0.2'])
  const r = readEndpointSlice(slice, config, 'ns')
  assert.ok(r.ok)
  assert.deepEqual(r.endpoints.map((e) => e.peer.host), ['10.0.0.1'])
  const all = readEndpointSlice(slice, { ...config, includeNotReady: true }, 'ns')
  assert.ok(all.ok)
  assert.equal(all.endpoints.length, 2)
  const bare = readEndpointSlice({ metadata: { name: 'b' }, endpoints: [{ addresses: ['10.0.0.3'] }], ports: [{ port: 80 }] }, config, 'ns')
  assert.ok(bare.ok)
  assert.equal(bare.endpoints[0]?.identity, 'spiffe://c/ns/ns/sa/')
  const empty = readEndpointSlice({ metadata: { name: 'e' }, endpoints: null, ports: null }, config, 'ns')
  assert.ok(empty.ok && empty.endpoints.length === 0)
})

test('IPv6 addresses are bracketed in the target; the pod name fills {pod}', () => {
  const slice = { ...endpointSlice('s6', 'web', ['fd00::1']), addressType: 'IPv6' }
  const r = readEndpointSlice(slice, config, 'shop')
  assert.ok(r.ok)
  assert.deepEqual([r.endpoints[0]?.peer, r.endpoints[0]?.target, r.endpoints[0]?.identity], [{ host: 'fd00::1', port: 4143 }, '[fd00::1]:9100', 'spiffe://c/ns/shop/sa/web-0'])
})

test('invalid: no name, endpoints not a list, an address not a string, a bad port, an unknown addressType', () => {
  const base = endpointSlice('s', 'web', ['10.0.0.1'])
  const bad = [
    { ...base, metadata: {} },
    { ...base, endpoints: 'x' },
    { ...base, endpoints: [{ addresses: [42] }] },
    { ...base, endpoints: [{ addresses: [] }] },
    { ...base, ports: [{ port: 'http' }] },
    { ...base, addressType: 'IPv7' },
    'not an object',
  ]
  for (const slice of bad) assert.equal(readEndpointSlice(slice, config, 'ns').ok, false, JSON.stringify(slice).slice(0, 80))
})
