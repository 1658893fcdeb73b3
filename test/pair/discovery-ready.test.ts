// /ready waits for discovery: 503 while a source has not answered, 200 once every service heard from its source
// (for kubernetes: the EndpointSlice list and the Pod list whose labels the endpoints carry).
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { request } from 'undici'
import { endpointSlice } from '../discovery/fake-kube-api.js'
import { drive, share, startClient, startMesh, type Client, type Mesh } from '../helpers/mesh.js'

describe('readiness follows discovery', () => {
  let mesh: Mesh
  let client: Client
  // An API server that holds every request until the test lets it answer.
  const held: ServerResponse[] = []
  const heldPods: ServerResponse[] = []
  const api = createServer((req, res) => { (req.url?.startsWith('/api/v1/') === true ? heldPods : held).push(res) })

  const ready = async (): Promise<number> => {
    const admin = client.proxy.adminAddress
    assert.ok(admin !== undefined)
    const res = await request(`http://${admin.host}:${admin.port}/ready`)
    await res.body.dump()
    return res.statusCode
  }

  before(async () => {
    mesh = await startMesh([0])
    await new Promise<void>((resolve) => api.listen(0, '127.0.0.1', resolve))
    const tokenFile = join(mesh.dir, 'token')
    await writeFile(tokenFile, 'test-token\n')
    const pod = mesh.pods[0]
    client = await startClient(mesh, `
discovery:
  sources:
    k8s:
      kind: kubernetes
      apiServer: http://127.0.0.1:${(api.address() as AddressInfo).port}
      tokenFile: ${tokenFile}
      namespace: shop
      listTimeoutMs: 60s
      services:
        cart: { name: cart, peerPort: ${mesh.peerPort}, targetPort: http, identity: "${mesh.identity}" }
services:
  cart: { source: k8s }
  web: { endpoints: [{ peer: "${pod?.peer ?? ''}", identity: "${mesh.identity}", target: "${pod?.target ?? ''}" }] }
`)
  })
  after(async () => {
    await client?.close()
    for (const res of [...held, ...heldPods]) res.destroy()
    api.closeAllConnections()
    await new Promise((resolve) => api.close(resolve))
    await mesh?.close()
  })

  it('is not ready while the Kubernetes list is unanswered; static services already serve', async () => {
    for (let i = 0; i < 100 && (held.length === 0 || heldPods.length === 0); i++) await new Promise((resolve) => setTimeout(resolve, 10))
    assert.equal(held.length, 1, 'the source sent its slice list request')
    assert.equal(heldPods.length, 1, 'and its pod list request')
    assert.equal(await ready(), 503)
    assert.deepEqual([...share(await drive(client, 'web', 10, 2)).keys()], ['pod-1'])
    assert.equal(await ready(), 503)
  })

  it('is ready once both lists answered', async () => {
    const res = held.shift()
    res?.writeHead(200, { 'content-type': 'application/json' })
    res?.end(JSON.stringify({ kind: 'EndpointSliceList', apiVersion: 'discovery.k8s.io/v1', metadata: { resourceVersion: '7' }, items: [endpointSlice('cart-a', 'cart', [mesh.pods[0]?.host ?? ''], [], mesh.appPort)] }))
    await new Promise((resolve) => setTimeout(resolve, 100))
    assert.equal(await ready(), 503, 'the endpoints wait for their pod labels')
    const pods = heldPods.shift()
    pods?.writeHead(200, { 'content-type': 'application/json' })
    pods?.end(JSON.stringify({ kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: '8' }, items: [] }))
    let status = 503
    for (let i = 0; i < 200 && status !== 200; i++) {
      status = await ready()
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 10))
    }
    assert.equal(status, 200)
    assert.deepEqual([...share(await drive(client, 'cart', 10, 2)).keys()], ['pod-1'])
  })
})
