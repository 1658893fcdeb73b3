// Failover to a remote cluster: a west service with local endpoints and `failover: east` goes to
// its local inbound while that is up; when it dies and its endpoint is ejected, traffic moves to
// the east cluster through the gateway; when it comes back, traffic comes home. Real processes:
// the three of startClusters plus a west inbound.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { get } from '../helpers/clients.js'
import { eventually, startClusters, type Clusters } from '../helpers/clusters.js'
import { freePort, metricSum, metricsText, startMeshgate, tcpListening, type MeshgateProcess } from '../helpers/meshgate-process.js'

const CLIENT = 'spiffe://west.local/ns/default/sa/client'

describe('failover to a remote cluster and back', { timeout: 120_000 }, () => {
  let c: Clusters
  let westApp: http.Server
  let westInbound: MeshgateProcess | undefined
  let westInboundFile = ''
  let westInboundPort = 0
  let westInboundAdmin = 0

  const startWestInbound = async (): Promise<void> => {
    westInbound = startMeshgate(westInboundFile)
    await tcpListening(westInboundAdmin, westInbound)
  }
  /** Where `shop.west` answers from now: `west` (the local app) or `east` (the east demo via the gateway). */
  const whereFrom = async (): Promise<string> => {
    const reply = await get(c.ports.app, '/where', 'shop.west', 10_000)
    if (reply.status !== 200) return `${reply.status} ${reply.error ?? ''}`
    if (reply.body === 'west app') return 'west'
    return (JSON.parse(reply.body) as { caller: string }).caller === CLIENT ? 'east' : reply.body
  }

  before(async () => {
    westApp = http.createServer((_req, res) => res.end('west app'))
    await new Promise<void>((resolve) => westApp.listen(0, '127.0.0.1', resolve))
    const appPort = (westApp.address() as AddressInfo).port
    westInboundPort = await freePort()
    westInboundAdmin = await freePort()
    c = await startClusters({
      extraGatewayServices: { shop: 'http' },
      extraExports: '    shop: { allow: ["spiffe://west.local"] }\n',
      extraWestServices: `  shop:
    aliases: [shop.west]
    endpoints: [{ peer: "127.0.0.1:${westInboundPort}", identity: "spiffe://west.local/ns/default/sa/shop", target: "127.0.0.1:${appPort}", transport: h2 }]
    failover: east
`,
      // Eject on the first failure; probe back (with a real request, as failure accrual does) after 1 s, then 2 s.
      westExtra: 'balancing: { failureAccrual: { consecutiveFailures: 1, backoffInitialMs: 1s, backoffMaxMs: 2s, jitter: 0 }, queue: { maxWaitMs: 200ms } }\n',
    })
    westInboundFile = join(c.dir, 'west-inbound.yaml')
    await writeFile(westInboundFile, `
devPki: { dir: pki/west.local, trustDomain: west.local, workloads: [shop] }
log: { level: warn }
admin: { host: 127.0.0.1, port: ${westInboundAdmin} }
inbound:
  tls: { ca: pki/west.local/ca.crt, cert: pki/west.local/shop.crt, key: pki/west.local/shop.key }
  listeners: [{ host: 127.0.0.1, port: ${westInboundPort}, h3: false }]
  targets: [{ address: "127.0.0.1:${appPort}", allow: ["spiffe://west.local"] }]
`)
    await startWestInbound()
  })
  after(async () => {
    await westInbound?.stop()
    await c?.close()
    await new Promise((resolve) => westApp.close(resolve))
  })

  it('serves from the local cluster while its endpoint is up', async () => {
    await eventually(async () => await whereFrom() === 'west', 'the local answer')
    for (let i = 0; i < 5; i++) assert.equal(await whereFrom(), 'west')
  })

  it('moves to the remote cluster when every local endpoint is ejected', async () => {
    await westInbound?.stop()
    const seen: string[] = []
    await eventually(async () => {
      seen.push(await whereFrom())
      return seen.at(-1) === 'east'
    }, 'traffic to move to east')
    // At most the failures that eject the endpoint (one here) before the move.
    assert.ok(seen.filter((s) => s !== 'east').length <= 2, seen.join(', '))
    for (let i = 0; i < 5; i++) assert.equal(await whereFrom(), 'east')
    const metrics = await metricsText(c.ports.westAdmin)
    assert.ok(metricSum(metrics, 'meshgate_remote_cluster_failovers_total', { service: 'shop', cluster: 'east', to: 'remote' }) >= 1)
    assert.equal(metricSum(metrics, 'meshgate_remote_cluster_failed_over', { service: 'shop', cluster: 'east' }), 1)
  })

  it('comes back once the local endpoint recovers', async () => {
    await startWestInbound()
    await eventually(async () => await whereFrom() === 'west', 'traffic to come back to west')
    for (let i = 0; i < 5; i++) assert.equal(await whereFrom(), 'west')
    const metrics = await metricsText(c.ports.westAdmin)
    assert.ok(metricSum(metrics, 'meshgate_remote_cluster_failovers_total', { service: 'shop', cluster: 'east', to: 'local' }) >= 1)
    assert.equal(metricSum(metrics, 'meshgate_remote_cluster_failed_over', { service: 'shop', cluster: 'east' }), 0)
  })
})
