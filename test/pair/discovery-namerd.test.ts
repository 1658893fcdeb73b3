// A service resolved by namerd through a real mesh: the pods namerd names get the traffic, and a
// watch update moves it, on both data planes. namerd is a small server in the test speaking its
// HTTP resolve API (test/discovery/fake-namerd.ts), not namerd itself.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { FakeNamerd } from '../discovery/fake-namerd.js'
import { driveUntil, podsOf, sawAll, startClient, startMesh, waitForEndpoints, type Client, type Mesh } from '../helpers/mesh.js'
import { DATA_PLANES } from '../helpers/transports.js'

for (const plane of DATA_PLANES) {
  describe(`namerd discovery (${plane.name} data plane)`, { skip: plane.skip }, () => {
    let mesh: Mesh
    let namerd: FakeNamerd
    let client: Client
    before(async () => {
      mesh = await startMesh([0, 0], { dataPlane: plane.name })
      namerd = new FakeNamerd()
      const url = await namerd.listen()
      namerd.set('default', '/svc/web', { type: 'bound', addrs: [{ ip: mesh.pods[0].host, port: mesh.peerPort }] })
      client = await startClient(mesh, `
discovery:
  sources:
    namerd: { kind: namerd, url: "${url}", retryMs: 50ms, services: { web: { path: /svc/web, identity: "${mesh.identity}", target: "{address}:${mesh.appPort}" } } }
services:
  web: { source: namerd, aliases: [web.test] }
`, { dataPlane: plane.name })
    })
    after(async () => {
      await client.close()
      await namerd.close()
      await mesh.close()
    })

    it('sends traffic to the pods namerd names, and follows a watch update', async () => {
      await waitForEndpoints(client, 'namerd', 'web', 1)
      const firstPods = podsOf(await driveUntil(client, 'web.test', (all) => all.length >= 20, 40))
      assert.deepEqual(firstPods, ['pod-1'])
      namerd.set('default', '/svc/web', { type: 'bound', addrs: mesh.pods.map((p) => ({ ip: p.host, port: mesh.peerPort })) })
      await waitForEndpoints(client, 'namerd', 'web', 2)
      // The new pod takes traffic (which of the two the peak-EWMA balancer prefers afterwards is
      // the balancer's business, tested in test/balance; requiring both here flaked on a loaded box).
      await driveUntil(client, 'web.test', sawAll(['pod-2']), 1000)
      namerd.set('default', '/svc/web', { type: 'bound', addrs: [{ ip: mesh.pods[1].host, port: mesh.peerPort }] })
      await waitForEndpoints(client, 'namerd', 'web', 1)
      const after = await driveUntil(client, 'web.test', (all) => all.length >= 20, 40)
      assert.deepEqual(podsOf(after), ['pod-2'])
    })
  })
}
