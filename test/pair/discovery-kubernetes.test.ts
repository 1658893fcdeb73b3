// The kubernetes source end to end against a fake API server speaking the real list/watch wire format.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { FakeKubeApi, endpointSlice, pod, type Json } from '../discovery/fake-kube-api.js'
import { captureLog, until } from '../discovery/log-capture.js'
import { parseMetricsText } from '../../src/metrics/text-format.js'
import { drive, driveUntil, podsOf, sawAll, startClient, startMesh, waitForEndpoints, type Client, type Mesh } from '../helpers/mesh.js'

/**
 * The `discovery:` section of a client watching `url` (namespace shop, short backoff) for the
 * service `cart` on `mesh`'s pods, with a bearer token written to a file in `mesh.dir`.
 */
async function kubernetesSource (mesh: Mesh, url: string): Promise<string> {
  const tokenFile = join(mesh.dir, 'token')
  await writeFile(tokenFile, 'test-token\n')
  return `
discovery:
  sources:
    k8s:
      kind: kubernetes
      apiServer: ${url}
      tokenFile: ${tokenFile}
      namespace: shop
      backoffInitialMs: 50ms
      backoffMaxMs: 200ms
      services:
        cart: { name: cart, peerPort: ${mesh.peerPort}, targetPort: http, identity: "${mesh.identity}" }`
}

describe('kubernetes discovery through real proxies (fake API server)', () => {
  let mesh: Mesh
  let api: FakeKubeApi
  let client: Client
  const log = captureLog('info')
  const hosts = (pods: number[]): string[] => pods.map((i) => mesh.pods[i]?.host ?? '')
  const slice = (name: string, pods: number[]): Json => endpointSlice(name, 'cart', hosts(pods), [], mesh.appPort)

  before(async () => {
    mesh = await startMesh([0, 0, 0])
    api = new FakeKubeApi()
    const url = await api.start()
    api.emit('ADDED', slice('cart-a', [0, 1]))
    client = await startClient(mesh, `${await kubernetesSource(mesh, url)}
services:
  cart: { source: k8s, aliases: [cart.shop.svc] }
`, { logger: log.logger })
  })
  after(async () => {
    await client?.close()
    await api?.stop()
    await mesh?.close()
  })

  it('lists the slices and spreads over their ready endpoints', async () => {
    const outcomes = await driveUntil(client, 'cart.shop.svc', sawAll(['pod-1', 'pod-2']), 1000)
    assert.deepEqual(podsOf(outcomes), ['pod-1', 'pod-2'])
  })

  it('MODIFIED adds an endpoint: it receives traffic', async () => {
    api.emit('MODIFIED', slice('cart-a', [0, 1, 2]))
    await driveUntil(client, 'cart', (all) => all.some((o) => o.pod === 'pod-3'), 2000, 10)
    await waitForEndpoints(client, 'k8s', 'cart', 3)
  })

  it('ADDED and DELETED slices: the set is the union of the slices that exist', async () => {
    api.emit('ADDED', slice('cart-b', [2]))
    api.emit('DELETED', slice('cart-a', [0, 1, 2]))
    await waitForEndpoints(client, 'k8s', 'cart', 1)
    assert.deepEqual(podsOf(await drive(client, 'cart', 30, 3)), ['pod-3'])
  })

  it('a dropped watch resumes from its resourceVersion and sees later changes', async () => {
    const lists = (): number => api.requests.filter((r) => r.path.endsWith('/endpointslices') && r.query.get('watch') !== '1').length
    const listsBefore = lists()
    api.drop()
    api.emit('MODIFIED', slice('cart-b', [1, 2]))
    await driveUntil(client, 'cart', (all) => all.some((o) => o.pod === 'pod-2'), 2000, 10)
    await until(() => api.openWatches > 0, 10_000, 'the watch to reopen')
    const resumed = api.requests.filter((r) => r.path.endsWith('/endpointslices') && r.query.get('watch') === '1').at(-1)
    assert.match(resumed?.query.get('resourceVersion') ?? '', /^\d+$/, 'the watch resumed from a resourceVersion')
    assert.equal(lists(), listsBefore, 'no relist after a dropped connection')
    await waitForEndpoints(client, 'k8s', 'cart', 2)
    const outcomes = await drive(client, 'cart', 60, 4)
    assert.ok(outcomes.every((o) => o.status === 200 && o.pod !== 'pod-1'), outcomes.map((o) => o.error ?? o.pod).join(', '))
  })

  it('unknown fields alone are tolerated (forward compatibility); the slice is used', async () => {
    const withExtras = { ...slice('cart-b', [0, 1, 2]), futureField: { x: 1 }, hints: { forZones: [{ name: 'zone-a' }] } }
    api.emit('MODIFIED', withExtras)
    await waitForEndpoints(client, 'k8s', 'cart', 3)
    await driveUntil(client, 'cart', (all) => all.some((o) => o.pod === 'pod-1'), 2000, 10)
  })

  it('an unusable slice (unknown fields, unknown addressType): last good version kept, error logged, traffic flows', async () => {
    const bad = { ...slice('cart-b', [0]), addressType: 'IPv5', somethingNew: true }
    api.emit('MODIFIED', bad)
    await until(() => log.withCode('E_DISCOVERY_K8S_INVALID_SLICE').length > 0, 10_000, 'E_DISCOVERY_K8S_INVALID_SLICE in the log')
    const outcomes = await drive(client, 'cart', 90, 6)
    assert.ok(outcomes.every((o) => o.status === 200), outcomes.map((o) => o.error ?? o.pod).join(', '))
    await waitForEndpoints(client, 'k8s', 'cart', 3, 0) // the last good version of cart-b: three pods
    const metrics = await client.proxy.metrics.registry.metrics()
    assert.match(metrics, /meshgate_discovery_errors_total\{source="k8s",code="E_DISCOVERY_K8S_INVALID_SLICE"\} [1-9]/)
    assert.match(metrics, /meshgate_discovery_endpoints\{source="k8s",service="cart"\} 3/)
  })
})

describe('kubernetes pod labels select route subsets through real proxies (fake API server)', () => {
  let mesh: Mesh
  let api: FakeKubeApi
  let client: Client
  // Each endpoint's targetRef names the mesh pod it is; the Pods carry the version label.
  const slice = (): Json => endpointSlice('cart-a', 'cart', mesh.pods.map((p) => p.host), [], mesh.appPort, (i) => mesh.pods[i]?.name ?? '')
  const podAt = (i: number, version: string): Json => pod(mesh.pods[i]?.name ?? '', mesh.pods[i]?.host ?? '', { app: 'cart', version })
  /** Which pods answered `count` GETs of `path` (2 in flight). */
  const answered = async (path: string, count: number): Promise<string[]> => {
    const outcomes = await drive(client, 'cart', count, 2, () => {}, path)
    assert.ok(outcomes.every((o) => o.status === 200), outcomes.map((o) => o.error ?? o.pod).join(', '))
    return podsOf(outcomes)
  }

  before(async () => {
    mesh = await startMesh([0, 0])
    api = new FakeKubeApi()
    const url = await api.start()
    api.emit('ADDED', slice())
    api.emitPod('ADDED', podAt(0, 'v1'))
    api.emitPod('ADDED', podAt(1, 'v2'))
    client = await startClient(mesh, `${await kubernetesSource(mesh, url)}
services:
  cart:
    source: k8s
    routes:
      - name: canary
        match: [{ path: { prefix: /v2 } }]
        backends: [{ subset: { version: v2 } }]
      - name: stable
        match: [{ path: { prefix: /v1 } }]
        backends: [{ subset: { version: v1 } }]
`)
  })
  after(async () => {
    await client?.close()
    await api?.stop()
    await mesh?.close()
  })

  it('a route to the version=v2 subset reaches only the Pod labelled v2; the rest of the service spreads', async () => {
    await waitForEndpoints(client, 'k8s', 'cart', 2)
    assert.deepEqual(await answered('/v2/x', 40), ['pod-2'])
    assert.deepEqual(await answered('/v1/x', 40), ['pod-1'])
    const all = await driveUntil(client, 'cart', sawAll(['pod-1', 'pod-2']), 400)
    assert.deepEqual(podsOf(all), ['pod-1', 'pod-2'])
    // Summed over transports: `auto` endpoints may carry the first requests over h2 while h3 is still dialling.
    const canary = parseMetricsText(await client.proxy.metrics.registry.metrics())
      .filter((m) => m.name === 'meshgate_requests_total' && m.labels.route === 'canary')
      .reduce((n, m) => n + m.value, 0)
    assert.equal(canary, 40)
  })

  it('relabelling the Pods moves the subset traffic; the slice never changed', async () => {
    const slicesBefore = api.requests.filter((r) => r.path.endsWith('/endpointslices')).length
    api.emitPod('MODIFIED', podAt(0, 'v2'))
    api.emitPod('MODIFIED', podAt(1, 'v1'))
    // Bounded: at most 10 rounds of 10 requests until the v2 route lands on pod-1 only.
    let seen: string[] = []
    for (let round = 0; round < 10; round++) {
      seen = await answered('/v2/y', 10)
      if (seen.length === 1 && seen[0] === 'pod-1') break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    assert.deepEqual(seen, ['pod-1'])
    assert.deepEqual(await answered('/v2/z', 40), ['pod-1'])
    assert.deepEqual(await answered('/v1/z', 40), ['pod-2'])
    assert.equal(api.requests.filter((r) => r.path.endsWith('/endpointslices')).length, slicesBefore, 'no slice request was needed')
  })

  it('a Pod that loses the label leaves the subset: its route has no endpoint and fails with a meshgate error code', async () => {
    api.emitPod('MODIFIED', pod(mesh.pods[0]?.name ?? '', mesh.pods[0]?.host ?? '', { app: 'cart' }))
    let outcome = (await drive(client, 'cart', 1, 1, () => {}, '/v2/gone'))[0]
    for (let i = 0; i < 20 && outcome?.status === 200; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50))
      outcome = (await drive(client, 'cart', 1, 1, () => {}, '/v2/gone'))[0]
    }
    assert.notEqual(outcome?.status, 200)
    assert.ok(outcome?.error !== undefined, `a meshgate error code: ${JSON.stringify(outcome)}`)
    assert.deepEqual(await answered('/v1/still', 20), ['pod-2'])
  })
})
