// The dns source end to end: dnsmasq records → outbound meshgate → pods; changes followed, bad answers survived.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { request } from 'undici'
import { captureLog, until } from '../discovery/log-capture.js'
import { DNSMASQ, startDnsmasq, type Dnsmasq } from '../discovery/dnsmasq.js'
import { drive, driveUntil, podsOf, sawAll, startClient, startMesh, waitForEndpoints, type Client, type Mesh } from '../helpers/mesh.js'

const skip = existsSync(DNSMASQ) ? false : `${DNSMASQ} not installed (apt-get install dnsmasq-base)`
const REFRESH_MS = 500

describe('dns discovery through real proxies', { skip }, () => {
  let mesh: Mesh
  let dns: Dnsmasq
  let client: Client
  const log = captureLog('info')
  const records = (pods: number[]): string[] => pods.map((i) => `${mesh.pods[i]?.host ?? ''} web.mesh.test`)

  before(async () => {
    mesh = await startMesh([0, 0, 0])
    dns = await startDnsmasq(records([0, 1]), [])
    client = await startClient(mesh, `
discovery:
  sources:
    corp-dns:
      kind: dns
      servers: ["127.0.0.1:${dns.port}"]
      minRefreshMs: 100ms
      maxRefreshMs: ${REFRESH_MS}ms
      retryMs: 200ms
      timeoutMs: 300ms
      tries: 1
      services:
        web: { name: web.mesh.test, type: A, port: ${mesh.peerPort}, identity: "${mesh.identity}", target: "{address}:${mesh.appPort}" }
services:
  web: { source: corp-dns }
`, { logger: log.logger })
  })
  after(async () => {
    await client?.close()
    await dns?.stop()
    await mesh?.close()
  })

  it('is ready once the first lookup answered, and spreads over the A records', async () => {
    const admin = client.proxy.adminAddress
    assert.ok(admin !== undefined)
    let ready = 0
    for (let i = 0; i < 200 && ready !== 200; i++) {
      const res = await request(`http://${admin.host}:${admin.port}/ready`)
      await res.body.dump()
      ready = res.statusCode
      if (ready !== 200) await new Promise((resolve) => setTimeout(resolve, 20))
    }
    assert.equal(ready, 200)
    const outcomes = await driveUntil(client, 'web', sawAll(['pod-1', 'pod-2']), 1000)
    assert.deepEqual(podsOf(outcomes), ['pod-1', 'pod-2'])
  })

  it('a new A record receives traffic within one refresh', async () => {
    await dns.setHosts(records([0, 1, 2]))
    const changed = performance.now()
    const outcomes = await driveUntil(client, 'web', (all) => all.some((o) => o.pod === 'pod-3'), 2000, 10)
    const elapsed = performance.now() - changed
    assert.ok(outcomes.every((o) => o.status === 200))
    // One refresh is ≤ maxRefreshMs (the TTL is 1 s); the bound leaves room for a loaded machine.
    assert.ok(elapsed < REFRESH_MS + 2500, `pod-3 first answered ${elapsed.toFixed(0)} ms after the change`)
    await waitForEndpoints(client, 'corp-dns', 'web', 3)
  })

  it('a removed A record stops receiving traffic', async () => {
    await dns.setHosts(records([1, 2]))
    await waitForEndpoints(client, 'corp-dns', 'web', 2)
    const outcomes = await drive(client, 'web', 60, 4)
    assert.ok(outcomes.every((o) => o.status === 200 && o.pod !== 'pod-1'), outcomes.map((o) => o.error ?? o.pod).join(', '))
  })

  it('an answer with no records: last good set kept, E_DISCOVERY_DNS_EMPTY logged, traffic flows', async () => {
    await dns.setHosts(['127.0.0.99 other.mesh.test'])
    await until(() => log.withCode('E_DISCOVERY_DNS_EMPTY').length > 0, 10_000, 'E_DISCOVERY_DNS_EMPTY in the log')
    const outcomes = await drive(client, 'web', 60, 4)
    assert.ok(outcomes.every((o) => o.status === 200 && o.pod !== 'pod-1'), outcomes.map((o) => o.error ?? o.pod).join(', '))
    await waitForEndpoints(client, 'corp-dns', 'web', 2, 0) // the last good set, unchanged
  })

  it('a resolver that is gone: E_DISCOVERY_DNS_FAILED logged, traffic flows', async () => {
    await dns.kill()
    await until(() => log.withCode('E_DISCOVERY_DNS_FAILED').length > 0, 10_000, 'E_DISCOVERY_DNS_FAILED in the log')
    const outcomes = await drive(client, 'web', 40, 4)
    assert.ok(outcomes.every((o) => o.status === 200))
    const metrics = await client.proxy.metrics.registry.metrics()
    assert.match(metrics, /meshgate_discovery_errors_total\{source="corp-dns",code="E_DISCOVERY_DNS_EMPTY"\} [1-9]/)
    assert.match(metrics, /meshgate_discovery_errors_total\{source="corp-dns",code="E_DISCOVERY_DNS_FAILED"\} [1-9]/)
    assert.match(metrics, /meshgate_discovery_endpoints\{source="corp-dns",service="web"\} 2/)
  })
})
