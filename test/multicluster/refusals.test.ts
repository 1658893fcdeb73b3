// What the gateway refuses, each with its code: a caller whose CA it does not trust (TLS), a
// caller of a trust domain it does not accept, a service it does not export, a caller not allowed
// for the export, a stream of the wrong mode; and what the west side answers when the gateway is
// drained or killed (SIGKILL), then recovers once it is back. Real processes; the probes dial the
// gateway directly with the h2 transport and certificates made in the test.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createCertificateAuthority, loadCertificateAuthority, type CertificateAuthority } from '../../core/identity/pki.js'
import { EXPORTS_AUTHORITY, EXPORTS_PATH, GATEWAY_HEADERS } from '../../src/multicluster/wire.js'
import type { PeerSession, TlsMaterial } from '../../transports/contract.js'
import { h2Transport } from '../../transports/h2/index.js'
import { get } from '../helpers/clients.js'
import { eventually, startClusters, type Clusters } from '../helpers/clusters.js'
import { metricSum, metricsText } from '../helpers/meshgate-process.js'
import { meshErrorCode as code } from '../helpers/mesh-error-code.js'
import { quietLogger } from '../helpers/transport-rig.js'

const GATEWAY = 'spiffe://east.local/ns/default/sa/gateway'
const h2 = h2Transport()({ logger: quietLogger })

/** Starts the gateway again; waits until west's requests through it get 200, served to west's client. */
async function restartGatewayAndWaitForWest (c: Clusters, what: string): Promise<void> {
  await c.start('gateway')
  let last = { status: 0, error: undefined as string | undefined, body: '' }
  await eventually(async () => {
    last = await get(c.ports.app, '/', 'web.east', 10_000)
    return last.status === 200
  }, what)
  assert.equal((JSON.parse(last.body) as { caller: string }).caller, 'spiffe://west.local/ns/default/sa/client')
}

describe('the gateway refuses, with codes', { timeout: 120_000 }, () => {
  let c: Clusters
  let westCa: CertificateAuthority
  let eastCaPem: string
  const sessions: PeerSession[] = []

  /** A peer session to the gateway as `id`, with a certificate from `ca`. */
  const dial = async (ca: CertificateAuthority, id: string): Promise<PeerSession> => {
    const issued = await ca.issue(id)
    const tls: TlsMaterial = { ca: eastCaPem, cert: issued.cert, key: issued.key }
    const session = await h2.connect({ address: { host: '127.0.0.1', port: c.ports.gateway }, expectedIdentity: GATEWAY, tls, connectTimeoutMs: 5000 })
    sessions.push(session)
    return session
  }
  const e2eTunnel = async (session: PeerSession, service: string): Promise<unknown> =>
    await session.tunnel({ method: 'CONNECT', authority: service, path: '', scheme: 'https', headers: { [GATEWAY_HEADERS.mode]: 'e2e' } })

  before(async () => {
    c = await startClusters({ extraWestServices: '  internal: { aliases: [internal.east], cluster: east }\n' })
    const pki = join(c.dir, 'pki')
    westCa = await loadCertificateAuthority({ cert: await readFile(join(pki, 'west.local/ca.crt'), 'utf8'), key: await readFile(join(pki, 'west.local/ca.key'), 'utf8') })
    eastCaPem = await readFile(join(pki, 'east.local/ca.crt'), 'utf8')
  })
  after(async () => {
    for (const s of sessions) s.destroy()
    await c?.close()
  })

  it('an allowed caller gets through (the probe itself works)', async () => {
    const session = await dial(westCa, 'spiffe://west.local/ns/default/sa/client')
    const tunnel = await session.tunnel({ method: 'CONNECT', authority: 'web', path: '', scheme: 'https', headers: { [GATEWAY_HEADERS.mode]: 'e2e' } })
    assert.equal(tunnel.head.status, 200)
    assert.equal(tunnel.head.headers[GATEWAY_HEADERS.peerIdentity], 'spiffe://east.local/ns/default/sa/web')
    tunnel.stream.destroy()
  })

  it('a caller whose CA is not among the trust roots fails the handshake (E_PEER_TLS)', async () => {
    const rogue = await createCertificateAuthority('west.local')
    assert.equal(await code(dial(rogue, 'spiffe://west.local/ns/default/sa/client')), 'E_PEER_TLS')
  })

  it('a trust domain not in gateway.trustDomains: E_GATEWAY_UNTRUSTED_DOMAIN, for tunnels and for the exports', async () => {
    const session = await dial(westCa, 'spiffe://rogue.local/ns/default/sa/client')
    assert.equal(await code(e2eTunnel(session, 'web')), 'E_GATEWAY_UNTRUSTED_DOMAIN')
    const response = await session.request({ method: 'GET', authority: EXPORTS_AUTHORITY, path: EXPORTS_PATH, scheme: 'https', headers: {} }, null)
    response.body.resume()
    assert.equal(response.head.status, 403)
    assert.equal(response.head.headers['meshgate-error'], 'E_GATEWAY_UNTRUSTED_DOMAIN')
  })

  it('a service not exported: E_GATEWAY_NOT_EXPORTED, also one the gateway itself knows', async () => {
    const session = await dial(westCa, 'spiffe://west.local/ns/default/sa/client')
    assert.equal(await code(e2eTunnel(session, 'internal')), 'E_GATEWAY_NOT_EXPORTED')
    assert.equal(await code(e2eTunnel(session, 'no-such-service')), 'E_GATEWAY_NOT_EXPORTED')
    const response = await session.request({ method: 'GET', authority: 'internal', path: '/', scheme: 'https', headers: { [GATEWAY_HEADERS.service]: 'internal' } }, null)
    response.body.resume()
    assert.equal(response.head.headers['meshgate-error'], 'E_GATEWAY_NOT_EXPORTED')
  })

  it('a caller not on the export\'s allow list: E_GATEWAY_FORBIDDEN, and its exports leave the service out', async () => {
    const session = await dial(westCa, 'spiffe://west.local/ns/default/sa/other')
    assert.equal(await code(e2eTunnel(session, 'web')), 'E_GATEWAY_FORBIDDEN')
    const response = await session.request({ method: 'GET', authority: EXPORTS_AUTHORITY, path: EXPORTS_PATH, scheme: 'https', headers: {} }, null)
    let text = ''
    for await (const chunk of response.body) text += String(chunk)
    // web-term and echo-term allow the whole west.local domain; web, ws and echo only the client.
    assert.deepEqual(Object.keys((JSON.parse(text) as { services: object }).services).sort(), ['echo-term', 'web-term'])
  })

  it('a stream that does not fit the export\'s mode: E_GATEWAY_MODE', async () => {
    const session = await dial(westCa, 'spiffe://west.local/ns/default/sa/client')
    const plain = await session.request({ method: 'GET', authority: 'web.east', path: '/', scheme: 'https', headers: { [GATEWAY_HEADERS.service]: 'web' } }, null)
    plain.body.resume()
    assert.equal(plain.head.headers['meshgate-error'], 'E_GATEWAY_MODE')
    assert.equal(await code(e2eTunnel(session, 'web-term')), 'E_GATEWAY_MODE')
  })

  it('the gateway counts each refusal by code', async () => {
    const metrics = await metricsText(c.ports.gatewayAdmin)
    assert.ok(metricSum(metrics, 'meshgate_gateway_streams_total', { result: 'E_GATEWAY_UNTRUSTED_DOMAIN', caller_domain: 'rogue.local' }) >= 2)
    assert.ok(metricSum(metrics, 'meshgate_gateway_streams_total', { service: 'other', result: 'E_GATEWAY_NOT_EXPORTED' }) >= 3)
    assert.ok(metricSum(metrics, 'meshgate_gateway_streams_total', { service: 'web', result: 'E_GATEWAY_FORBIDDEN' }) >= 1)
    assert.ok(metricSum(metrics, 'meshgate_gateway_streams_total', { result: 'E_GATEWAY_MODE' }) >= 2)
  })

  it('through west, a remote service the gateway does not export answers 503 E_NO_ENDPOINT', async () => {
    await eventually(async () => (await get(c.ports.app, '/', 'web.east')).status === 200, 'west to read the exports')
    const reply = await get(c.ports.app, '/', 'internal.east')
    assert.equal(reply.status, 503)
    assert.equal(reply.error, 'E_NO_ENDPOINT')
  })

  it('gateway drained then gone: west answers 502 E_GATEWAY_UNREACHABLE; once it is back, traffic flows again', async () => {
    assert.equal((await get(c.ports.app, '/', 'web.east')).status, 200)
    // SIGTERM drains: west closes the inner sessions riding on the session the gateway sends GOAWAY
    // on, so the gateway finishes well before its drain deadline (30 s; stop() kills after 5 s).
    await c.stop('gateway')
    assert.equal(c.procs.gateway.child.signalCode, null, `the gateway was killed, not drained:\n${c.procs.gateway.output().slice(-1500)}`)
    assert.equal(c.procs.gateway.child.exitCode, 0)
    assert.ok(!c.procs.gateway.output().includes('drain deadline reached'), c.procs.gateway.output().slice(-1500))
    let last = { status: 0, error: undefined as string | undefined, body: '' }
    // The first request may still meet the dying inner session (E_PEER_RESET); then the dial fails.
    await eventually(async () => {
      last = await get(c.ports.app, '/', 'web.east', 10_000)
      return last.error === 'E_GATEWAY_UNREACHABLE'
    }, 'E_GATEWAY_UNREACHABLE from west')
    assert.equal(last.status, 502)
    assert.match(last.body, /gateway of cluster east .* unreachable/)
    await restartGatewayAndWaitForWest(c, 'west to recover once the gateway is back')
  })

  it('gateway killed (SIGKILL, no GOAWAY): west answers 502 E_GATEWAY_UNREACHABLE; once it is back, traffic flows again', async () => {
    let last = { status: 0, error: undefined as string | undefined, body: '' }
    await eventually(async () => {
      last = await get(c.ports.app, '/', 'web.east', 10_000)
      return last.status === 200
    }, 'traffic through the gateway before the kill')
    await c.procs.gateway.stop('SIGKILL')
    assert.equal(c.procs.gateway.child.signalCode, 'SIGKILL')
    // A killed peer says nothing (no GOAWAY, no CONNECTION_CLOSE): a request on the session that
    // died with the process waits until west declares it dead (h3: peerSilenceMs, 5 s, of no
    // answer to data in flight; h2: the PING timeout), then every dial is refused. Bounded at
    // 20 s, well under the 30 s idle timeout that used to decide it.
    const killedAt = Date.now()
    let hung = 0
    await eventually(async () => {
      try {
        last = await get(c.ports.app, '/', 'web.east', 5_000)
      } catch {
        hung++
        return false
      }
      return last.error === 'E_GATEWAY_UNREACHABLE'
    }, 'E_GATEWAY_UNREACHABLE from west after the kill', 20_000)
    console.log(`# E_GATEWAY_UNREACHABLE ${Date.now() - killedAt} ms after the kill (${hung} requests hung 5 s first)`)
    assert.equal(last.status, 502)
    assert.match(last.body, /gateway of cluster east .* unreachable/)
    await restartGatewayAndWaitForWest(c, 'west to recover once the killed gateway is back')
  })
})
