// The kubernetes source against a test server speaking the real EndpointSlice list/watch wire format.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { KubernetesSource } from '../../src/discovery/kubernetes.js'
import type { DiscoveryUpdate, Endpoint } from '../../src/discovery/types.js'
import { captureLog, until } from './log-capture.js'
import { endpointSlice, FakeKubeApi, type Json } from './fake-kube-api.js'

const api = new FakeKubeApi()
const log = captureLog()
let source: KubernetesSource
const updates: DiscoveryUpdate[] = []
const current = (): Endpoint[] => { const u = updates.at(-1); return u?.kind === 'reset' ? u.endpoints : [] }
const peers = (): string => current().map((e) => e.peer.host).sort().join(',')
const sliceRequests = (): typeof api.requests => api.requests.filter((r) => r.path.endsWith('/endpointslices'))
const watchRequests = (): URLSearchParams[] => sliceRequests().filter((r) => r.query.get('watch') === '1').map((r) => r.query)
const lists = (): number => sliceRequests().filter((r) => r.query.get('watch') === null).length

before(async () => {
  const url = await api.start()
  const first = endpointSlice('web-abc', 'web', ['10.0.0.1', '10.0.0.2'], ['10.0.0.9'])
  Object.assign(first, { futureTopLevelField: { nested: true } }) // unknown fields are tolerated
  ;((first.endpoints as Json[])[0] as Json).hints = { forZones: [{ name: 'zone-a' }] }
  api.emit('ADDED', first)
  api.emit('ADDED', endpointSlice('other-xyz', 'other', ['10.9.9.9']))
  source = new KubernetesSource({
    apiServer: url,
    token: 'test-token',
    namespace: 'shop',
    backoffInitialMs: 20,
    backoffMaxMs: 200,
    services: {
      web: { name: 'web', peerPort: 4143, targetPort: 'http', identity: 'spiffe://cluster.local/ns/{namespace}/sa/{service}' },
    },
  }, log.logger)
  source.watch('web', (u) => updates.push(u))
})

after(async () => {
  await source?.close()
  await api.stop()
})

test('list: ready endpoints of the service only, target port by name, unknown fields ignored', async () => {
  await until(() => updates.length >= 1, 3000, 'first set')
  assert.equal(peers(), '10.0.0.1,10.0.0.2')
  const e = current().find((x) => x.peer.host === '10.0.0.1')
  assert.deepEqual(e, {
    key: '10.0.0.1:4143|10.0.0.1:8080',
    peer: { host: '10.0.0.1', port: 4143 },
    identity: 'spiffe://cluster.local/ns/shop/sa/web',
    target: '10.0.0.1:8080',
    weight: 1,
    transport: 'auto',
    zone: 'zone-a',
  })
  const list = sliceRequests()[0]
  assert.equal(list?.path, '/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices')
  assert.equal(list?.query.get('labelSelector'), 'kubernetes.io/service-name=web')
  assert.equal(list?.authorization, 'Bearer test-token')
  await until(() => api.openWatches === 1, 2000, 'watch open')
  const w = watchRequests()[0]
  assert.equal(w?.get('resourceVersion'), '102')
  assert.equal(w?.get('allowWatchBookmarks'), 'true')
})

test('ADDED, MODIFIED and DELETED are followed', async () => {
  api.emit('ADDED', endpointSlice('web-def', 'web', ['10.0.1.1']))
  await until(() => peers() === '10.0.0.1,10.0.0.2,10.0.1.1', 2000, 'ADDED')
  api.emit('MODIFIED', endpointSlice('web-abc', 'web', ['10.0.0.1', '10.0.0.3'], ['10.0.0.2']))
  await until(() => peers() === '10.0.0.1,10.0.0.3,10.0.1.1', 2000, 'MODIFIED')
  api.emit('DELETED', endpointSlice('web-def', 'web', ['10.0.1.1']))
  await until(() => peers() === '10.0.0.1,10.0.0.3', 2000, 'DELETED')
  api.emit('ADDED', endpointSlice('other-2', 'other', ['10.9.9.8'])) // another service: not ours
  await new Promise((resolve) => setTimeout(resolve, 50))
  assert.equal(peers(), '10.0.0.1,10.0.0.3')
})

test('a dropped connection resumes from the last resourceVersion, no relist; missed events arrive', async () => {
  api.bookmark()
  await new Promise((resolve) => setTimeout(resolve, 30))
  const bookmarked = api.resourceVersion
  const listsBefore = lists()
  const watchesBefore = watchRequests().length
  api.drop()
  api.emit('MODIFIED', endpointSlice('web-abc', 'web', ['10.0.0.1', '10.0.0.4'])) // while disconnected
  await until(() => peers() === '10.0.0.1,10.0.0.4', 3000, 'missed event replayed')
  const resumed = watchRequests()[watchesBefore]
  assert.equal(resumed?.get('resourceVersion'), bookmarked)
  assert.equal(lists(), listsBefore, 'resumed without listing again')
  assert.ok(log.withCode('E_DISCOVERY_K8S_STREAM').length >= 1, 'the drop is logged with its code')
})

test('410 Gone (HTTP status, then ERROR event) → relist', async () => {
  for (const as of ['status', 'event'] as const) {
    await until(() => api.openWatches === 1, 3000, 'watch open')
    const listsBefore = lists()
    const goneBefore = log.withCode('E_DISCOVERY_K8S_GONE').length
    api.expire(as)
    api.drop()
    const ip = as === 'status' ? '10.0.0.5' : '10.0.0.6'
    // The change lands after the expiry, and only a relist can see it (history is gone for the source).
    api.emit('MODIFIED', endpointSlice('web-abc', 'web', ['10.0.0.1', ip]))
    await until(() => peers() === `10.0.0.1,${ip}`, 3000, `relist after 410 as ${as}`)
    assert.ok(lists() > listsBefore, 'listed again')
    assert.ok(log.withCode('E_DISCOVERY_K8S_GONE').length > goneBefore, 'logged with its code')
  }
})

test('an invalid slice is logged with a code and its last good version kept', async () => {
  await until(() => api.openWatches === 1, 3000, 'watch open')
  const before = peers()
  api.emit('MODIFIED', { ...endpointSlice('web-abc', 'web', []), endpoints: 'not-a-list' })
  await until(() => log.withCode('E_DISCOVERY_K8S_INVALID_SLICE').length > 0, 2000, 'invalid slice logged')
  assert.equal(peers(), before)
  const line = log.withCode('E_DISCOVERY_K8S_INVALID_SLICE')[0]
  assert.equal(line?.service, 'web')
  // a later good version replaces it as usual, and an unknown event type is ignored
  api.raw(JSON.stringify({ type: 'SOMETHING_NEW', object: {} }))
  api.emit('MODIFIED', endpointSlice('web-abc', 'web', ['10.0.0.7']))
  await until(() => peers() === '10.0.0.7', 2000, 'good version after the bad one')
})

test('close() ends the watch and is safe twice', async () => {
  await source.close()
  await source.close()
  await until(() => api.openWatches === 0, 2000, 'watch closed')
})
