// Pod labels on kubernetes endpoints: a Pod list + watch against the test API server, merged by targetRef.
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { KubernetesSource } from '../../src/discovery/kubernetes.js'
import type { DiscoveryUpdate, Endpoint } from '../../src/discovery/types.js'
import { captureLog, until } from './log-capture.js'
import { endpointSlice, FakeKubeApi, pod, type Json } from './fake-kube-api.js'

interface Rig { api: FakeKubeApi, source: KubernetesSource, updates: DiscoveryUpdate[], log: ReturnType<typeof captureLog> }

async function rig (setup: (api: FakeKubeApi) => void, podLabels?: boolean): Promise<Rig> {
  const api = new FakeKubeApi()
  const url = await api.start()
  setup(api)
  const log = captureLog()
  const source = new KubernetesSource({
    apiServer: url,
    token: 'test-token',
    namespace: 'shop',
    backoffInitialMs: 20,
    backoffMaxMs: 100,
    ...(podLabels === undefined ? {} : { podLabels }),
    services: { web: { name: 'web', peerPort: 4143, targetPort: 'http', identity: 'spiffe://cluster.local/ns/{namespace}/sa/{service}' } },
  }, log.logger)
  const updates: DiscoveryUpdate[] = []
  source.watch('web', (u) => updates.push(u))
  return { api, source, updates, log }
}

const current = (r: Rig): Endpoint[] => { const u = r.updates.at(-1); return u?.kind === 'reset' ? u.endpoints : [] }
/** `host=version` of each endpoint, sorted. */
const versions = (r: Rig): string => current(r).map((e) => `${e.peer.host}=${e.labels?.version ?? '-'}`).sort().join(',')

/** A slice of web whose endpoints' targetRefs are web-0, web-1 (fake-kube-api naming), with a label of its own. */
function labelledSlice (): Json {
  const slice = endpointSlice('web-abc', 'web', ['10.0.0.1', '10.0.0.2'])
  ;((slice.metadata as Json).labels as Record<string, string>).tier = 'front'
  return slice
}

describe('kubernetes endpoints carry their Pod\'s labels', () => {
  const rigs: Rig[] = []
  after(async () => {
    for (const r of rigs) {
      await r.source.close()
      await r.api.stop()
    }
  })

  it('the first set already has them (it waits for the Pod list); slice labels stay, a Pod\'s win', async () => {
    const r = await rig((api) => {
      api.emit('ADDED', labelledSlice())
      api.emitPod('ADDED', pod('web-0', '10.0.0.1', { app: 'web', version: 'v1', tier: 'pod-tier' }))
      api.emitPod('ADDED', pod('web-1', '10.0.0.2', { app: 'web', version: 'v2' }))
      api.emitPod('ADDED', pod('other-0', '10.0.9.9', { app: 'other', version: 'v9' }))
    })
    rigs.push(r)
    await until(() => r.updates.length >= 1, 3000, 'first set')
    assert.equal(r.updates.length, 1, 'no set without pod labels went out first')
    assert.equal(versions(r), '10.0.0.1=v1,10.0.0.2=v2')
    const first = current(r).find((e) => e.peer.host === '10.0.0.1')
    assert.deepEqual(first?.labels, { tier: 'pod-tier', 'pod-template-hash': '5d4f8c7b9', app: 'web', version: 'v1' })
    assert.deepEqual(current(r).find((e) => e.peer.host === '10.0.0.2')?.labels, { tier: 'front', 'pod-template-hash': '5d4f8c7b9', app: 'web', version: 'v2' })
    const podList = r.api.requests.find((q) => q.path === '/api/v1/namespaces/shop/pods')
    assert.equal(podList?.authorization, 'Bearer test-token')
    await until(() => r.api.openPodWatches === 1, 2000, 'one pod watch')
  })

  it('a Pod relabelled, deleted or added moves its endpoint\'s labels; other Pods change nothing', async () => {
    const r = rigs[0] as Rig
    r.api.emitPod('MODIFIED', pod('web-0', '10.0.0.1', { app: 'web', version: 'v2' }))
    await until(() => versions(r) === '10.0.0.1=v2,10.0.0.2=v2', 2000, 'relabel')
    const count = r.updates.length
    r.api.emitPod('MODIFIED', pod('other-0', '10.0.9.9', { app: 'other', version: 'v10' }))
    r.api.emitPod('MODIFIED', pod('web-1', '10.0.0.2', { app: 'web', version: 'v2' })) // same labels, new resourceVersion
    await new Promise((resolve) => setTimeout(resolve, 100))
    assert.equal(r.updates.length, count, 'no update for a pod no endpoint is, nor for unchanged labels')
    r.api.emitPod('DELETED', pod('web-1', '10.0.0.2', {}))
    await until(() => versions(r) === '10.0.0.1=v2,10.0.0.2=-', 2000, 'pod deleted: slice labels only')
    assert.deepEqual(current(r).find((e) => e.peer.host === '10.0.0.2')?.labels, { tier: 'front' })
    r.api.emitPod('ADDED', pod('web-1', '10.0.0.2', { version: 'v3' }))
    await until(() => versions(r) === '10.0.0.1=v2,10.0.0.2=v3', 2000, 'pod back')
  })

  it('a dropped Pod watch resumes from its resourceVersion and sees the change made meanwhile', async () => {
    const r = rigs[0] as Rig
    const podLists = (): number => r.api.requests.filter((q) => q.path.endsWith('/pods') && q.query.get('watch') === null).length
    const before = podLists()
    r.api.drop()
    r.api.emitPod('MODIFIED', pod('web-0', '10.0.0.1', { version: 'v1' }))
    await until(() => versions(r) === '10.0.0.1=v1,10.0.0.2=v3', 3000, 'missed pod event replayed')
    assert.equal(podLists(), before, 'no relist')
    const resumed = r.api.requests.filter((q) => q.path.endsWith('/pods') && q.query.get('watch') === '1').at(-1)
    assert.match(resumed?.query.get('resourceVersion') ?? '', /^\d+$/)
  })

  it('Pods forbidden (no RBAC): endpoints still come, with slice labels, and the 403 is logged with a code', async () => {
    const r = await rig((api) => {
      api.forbidPods = true
      api.emit('ADDED', labelledSlice())
    })
    rigs.push(r)
    await until(() => r.updates.length >= 1, 3000, 'first set')
    assert.equal(versions(r), '10.0.0.1=-,10.0.0.2=-')
    await until(() => r.log.withCode('E_DISCOVERY_K8S_HTTP').some((l) => String(l.msg).includes('pods of namespace shop') && String(l.msg).includes('403')), 2000, '403 logged')
    // RBAC granted later: the next try lists the pods and the labels arrive.
    r.api.emitPod('ADDED', pod('web-0', '10.0.0.1', { version: 'v1' }))
    r.api.forbidPods = false
    await until(() => versions(r) === '10.0.0.1=v1,10.0.0.2=-', 3000, 'labels once allowed')
  })

  it('podLabels: false watches no Pods', async () => {
    const r = await rig((api) => {
      api.emit('ADDED', labelledSlice())
      api.emitPod('ADDED', pod('web-0', '10.0.0.1', { version: 'v1' }))
    }, false)
    rigs.push(r)
    await until(() => r.updates.length >= 1, 3000, 'first set')
    assert.equal(versions(r), '10.0.0.1=-,10.0.0.2=-')
    assert.equal(r.api.requests.filter((q) => q.path.endsWith('/pods')).length, 0)
  })
})
