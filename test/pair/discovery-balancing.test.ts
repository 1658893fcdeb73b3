// Balancing through real meshgate proxies: a slow pod is avoided, a killed pod ejected, held tunnels spread by load.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { connect, type Socket } from 'node:net'
import { drive, share, startClient, startMesh, type Client, type Mesh } from '../helpers/mesh.js'

/** Opens a tunnel through the tcp listener and asks the workload behind it who it is; the socket stays open. */
async function openTunnel (port: number): Promise<{ socket: Socket, pod: string }> {
  const socket = connect(port, '127.0.0.1')
  socket.setTimeout(30_000, () => socket.destroy(new Error('tunnel test timed out')))
  let text = ''
  const pod = await new Promise<string>((resolve, reject) => {
    socket.once('error', reject)
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString()
      const found = /\r\n\r\n(pod-\d+)/.exec(text)
      if (found !== null) resolve(found[1] as string)
    })
    socket.write('GET / HTTP/1.1\r\nhost: web\r\n\r\n')
  })
  return { socket, pod }
}

describe('balancing through real proxies (three upstream pods)', () => {
  let mesh: Mesh
  let client: Client
  before(async () => {
    mesh = await startMesh([0, 0, 100])
    const endpoints = mesh.pods.map((p) => `{ peer: "${p.peer}", identity: "${mesh.identity}", target: "${p.target}" }`).join(', ')
    client = await startClient(mesh, `
services:
  web: { endpoints: [${endpoints}] }
balancing:
  peakEwma: { defaultRttMs: 5ms }
  failureAccrual: { consecutiveFailures: 3, backoffInitialMs: 60s, backoffMaxMs: 60s }
`, { tcpService: 'web' })
  })
  after(async () => {
    await client?.close()
    await mesh?.close()
  })

  it('the slow pod (100 ms added) gets well under its fair share of requests', async () => {
    await drive(client, 'web', 30, 6) // peer sessions up
    const outcomes = await drive(client, 'web', 300, 6)
    assert.ok(outcomes.every((o) => o.status === 200), `all answered: ${outcomes.filter((o) => o.status !== 200).map((o) => o.error).join(', ')}`)
    const counts = share(outcomes)
    const slowShare = (counts.get('pod-3') ?? 0) / outcomes.length
    assert.ok(slowShare < 0.15, `slow pod share ${slowShare.toFixed(3)} (fair share 0.333); per pod ${JSON.stringify([...counts])}`)
    assert.ok((counts.get('pod-1') ?? 0) > 60 && (counts.get('pod-2') ?? 0) > 60, `fast pods share the rest: ${JSON.stringify([...counts])}`)
  })

  it('held tunnels spread by open-tunnel count (picks are released when a tunnel closes)', async () => {
    for (let round = 0; round < 2; round++) {
      const tunnels = []
      for (let i = 0; i < 15; i++) tunnels.push(await openTunnel(client.tcpPort))
      const per = new Map<string, number>()
      for (const t of tunnels) per.set(t.pod, (per.get(t.pod) ?? 0) + 1)
      for (const t of tunnels) t.socket.destroy()
      // Least-loaded P2C keeps every pod at ≥ 3 of 15 open tunnels (random picks would not: p ≈ 0.24).
      assert.equal(per.size, 3, `round ${round}: ${JSON.stringify([...per])}`)
      assert.ok([...per.values()].every((n) => n >= 3), `round ${round}: ${JSON.stringify([...per])}`)
      await new Promise((resolve) => setTimeout(resolve, 100)) // tunnels closed on the proxy side too
    }
  })

  it('the app\'s own 500s are not endpoint failures: nothing is ejected', async () => {
    const outcomes = await drive(client, 'web', 60, 4, () => {}, '/fail')
    assert.ok(outcomes.every((o) => o.status === 500 && o.error === undefined && o.pod !== undefined), 'answered 500 by the apps themselves')
    const metrics = await client.proxy.metrics.registry.metrics()
    assert.doesNotMatch(metrics, /meshgate_balancer_ejections_total\{/)
    assert.match(metrics, /meshgate_balancer_endpoints\{service="web",state="ready"\} 3/)
  })

  it('a killed pod: a few requests fail until it is ejected, then none, and it gets no more traffic', async () => {
    const killAt = 100
    const outcomes = await drive(client, 'web', 400, 8, async (i) => {
      if (i === killAt) await mesh.pods[0]?.kill()
    })
    const failed = outcomes.filter((o) => o.status !== 200)
    assert.ok(failed.length >= 1, 'the kill was noticed')
    assert.ok(failed.every((o) => o.error === 'E_PEER_UNREACHABLE' || o.error === 'E_PEER_RESET' || o.error === 'E_UPSTREAM_RESET'), `failures name a peer error: ${failed.map((o) => o.error).join(', ')}`)
    // At most the in-flight requests plus the consecutive failures that eject (3) fail.
    assert.ok(failed.length <= 8 + 3, `${failed.length} failed requests`)
    const lastFailure = Math.max(...failed.map((o) => o.index))
    const afterEjection = outcomes.filter((o) => o.index > lastFailure)
    assert.ok(afterEjection.length >= 250, `${afterEjection.length} requests after the ejection window`)
    assert.ok(afterEjection.every((o) => o.status === 200 && o.pod !== 'pod-1'), 'no failed request after the ejection, none to the killed pod')
    const metrics = await client.proxy.metrics.registry.metrics()
    assert.match(metrics, /meshgate_balancer_ejections_total\{service="web",reason="consecutive"\} 1/)
    assert.match(metrics, /meshgate_balancer_endpoints\{service="web",state="ejected"\} 1/)
  })
})
