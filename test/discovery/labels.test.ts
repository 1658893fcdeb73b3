// Endpoint labels from each source that carries them, and the subset source that filters by them.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { ConfigProblem } from '../../core/errors.js'
import { endpointsFromEntries } from '../../src/discovery/endpoint-shape.js'
import { readEndpointSlice } from '../../src/discovery/kubernetes-slice.js'
import { StaticSource } from '../../src/discovery/static.js'
import { parseSubsetName, SubsetSource, subsetName } from '../../src/discovery/subset.js'
import type { DiscoveryUpdate } from '../../src/discovery/types.js'

const ID = 'spiffe://mesh.local/ns/default/sa/web'

test('file and static entries carry labels; a bad label map is a problem at its path', () => {
  const problems: ConfigProblem[] = []
  const endpoints = endpointsFromEntries([
    { peer: '10.0.0.1:4143', identity: ID, target: '10.0.0.1:8080', labels: { version: 'v2' } },
    { peer: '10.0.0.2:4143', identity: ID, target: '10.0.0.2:8080', labels: { version: 2 } },
  ], 'services.web.endpoints', problems)
  assert.deepEqual(endpoints[0].labels, { version: 'v2' })
  assert.equal(endpoints.length, 1)
  assert.deepEqual(problems.map((p) => p.path), ['services.web.endpoints[1].labels'])
})

test('an EndpointSlice gives its own labels, without the controller\'s', () => {
  const reading = readEndpointSlice({
    metadata: { name: 'web-abc', labels: { 'kubernetes.io/service-name': 'web', version: 'v2', 'endpointslice.kubernetes.io/managed-by': 'x' } },
    addressType: 'IPv4',
    ports: [{ port: 8080 }],
    endpoints: [{ addresses: ['10.1.0.5'] }],
  }, { name: 'web', peerPort: 4143, identity: ID }, 'default')
  assert.ok(reading.ok)
  assert.deepEqual(reading.endpoints[0].labels, { version: 'v2' })
})

test('the subset source passes on the endpoints whose labels all match, and changes to them', async () => {
  const services = {
    web: {
      endpoints: [
        { peer: '10.0.0.1:4143', identity: ID, target: '10.0.0.1:8080', weight: 1, transport: 'h2' as const, labels: { version: 'v1', zone: 'a' } },
        { peer: '10.0.0.2:4143', identity: ID, target: '10.0.0.2:8080', weight: 1, transport: 'h2' as const, labels: { version: 'v2', zone: 'a' } },
        { peer: '10.0.0.3:4143', identity: ID, target: '10.0.0.3:8080', weight: 1, transport: 'h2' as const },
      ],
    },
  }
  const inner = new StaticSource({ services })
  const subsets = new SubsetSource((s) => s === 'web' ? inner : undefined)
  const name = subsetName('web', { zone: 'a', version: 'v2' })
  assert.equal(name, 'web#version=v2,zone=a')
  assert.deepEqual(parseSubsetName(name), { service: 'web', labels: { version: 'v2', zone: 'a' } })
  const got = await new Promise<DiscoveryUpdate>((resolve) => { subsets.watch(name, resolve) })
  assert.equal(got.kind, 'reset')
  assert.deepEqual(got.kind === 'reset' ? got.endpoints.map((e) => e.target) : [], ['10.0.0.2:8080'])
  const missing = await new Promise<DiscoveryUpdate>((resolve) => { subsets.watch('nope#version=v1', resolve) })
  assert.equal(missing.kind, 'doesNotExist')
  await inner.close()
})
