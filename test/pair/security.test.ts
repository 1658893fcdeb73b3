// Security through the pair: every refusal has its error code, and other traffic is unaffected.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { pino } from 'pino'
import { startPair, type Pair } from '../helpers/pair.js'
import { DATA_PLANES } from '../helpers/transports.js'
import { makePki, type TestPki } from '../helpers/pki.js'
import { h2Transport } from '../../transports/h2/index.js'
import { MeshError } from '../../core/errors.js'
import { get, tcpRoundTrip } from '../helpers/clients.js'

for (const plane of DATA_PLANES) {
  describe(`security of the pair (${plane.name} data plane)`, { skip: plane.skip }, () => {
    let pki: TestPki
    let good: Pair
    before(async () => {
      pki = await makePki()
      good = await startPair({ dataPlane: plane.name, pki })
    })
    after(async () => { await good.close() })

    it('refuses a client certificate from another CA (E_PEER_TLS at the caller, nothing delivered)', async () => {
      const foreign = await makePki()
      const pair = await startPair({ dataPlane: plane.name, pki, clientTls: { ...(await foreign.workload('client')), ca: pki.ca.cert } })
      try {
        const reply = await get(pair.appPort, '/', 'web.test', 15_000)
        assert.equal(reply.status, 502)
        assert.equal(reply.error, 'E_PEER_TLS')
        assert.equal((await get(good.appPort, '/', 'web.test', 15_000)).status, 200, 'other traffic is unaffected')
      } finally {
        await pair.close()
      }
    })

    it('refuses a server whose identity is not the one discovery expects (E_PEER_IDENTITY)', async () => {
      const pair = await startPair({ dataPlane: plane.name, pki, expectIdentity: pki.id('someone-else') })
      try {
        const reply = await get(pair.appPort, '/', 'web.test', 15_000)
        assert.equal(reply.status, 502)
        assert.equal(reply.error, 'E_PEER_IDENTITY')
        assert.match(reply.body, /someone-else/)
      } finally {
        await pair.close()
      }
    })

    it('refuses an expired server certificate (E_PEER_TLS)', async () => {
      const pair = await startPair({ dataPlane: plane.name, pki, serverTls: await pki.workload('server', { expired: true }) })
      try {
        const reply = await get(pair.appPort, '/', 'web.test', 15_000)
        assert.equal(reply.status, 502)
        assert.equal(reply.error, 'E_PEER_TLS')
        assert.match(reply.body, /expired/i)
      } finally {
        await pair.close()
      }
    })

    it('refuses an expired client certificate at the inbound side', async () => {
      const pair = await startPair({ dataPlane: plane.name, pki, clientTls: await pki.workload('client', { expired: true }) })
      try {
        const reply = await get(pair.appPort, '/', 'web.test', 15_000)
        assert.equal(reply.status, 502)
        assert.equal(reply.error, 'E_PEER_TLS')
      } finally {
        await pair.close()
      }
    })

    it('refuses a caller that is not on the allow list (E_FORBIDDEN) for HTTP and TCP', async () => {
      const pair = await startPair({ dataPlane: plane.name, pki, allow: [pki.id('only-this-one')] })
      try {
        const reply = await get(pair.appPort, '/', 'web.test', 15_000)
        assert.equal(reply.status, 403)
        assert.equal(reply.error, 'E_FORBIDDEN')
        assert.equal(await tcpRoundTrip(pair.tcpPort), '', 'the TCP connection is closed without data')
        assert.equal((await get(good.appPort, '/', 'web.test', 15_000)).status, 200)
      } finally {
        await pair.close()
      }
    })

    it('refuses a CONNECT to a target the inbound side does not serve (E_TARGET_NOT_ALLOWED)', async () => {
      const transport = h2Transport()({ logger: pino({ level: 'silent' }) })
      const session = await transport.connect({
        address: { host: '127.0.0.1', port: good.peerPort },
        expectedIdentity: pki.id('server'),
        tls: await pki.workload('client'),
        connectTimeoutMs: 5000,
      })
      try {
        await assert.rejects(
          session.tunnel({ method: 'CONNECT', authority: '127.0.0.1:22', path: '', scheme: 'http', headers: {} }),
          (err: unknown) => err instanceof MeshError && err.code === 'E_TARGET_NOT_ALLOWED')
        // An HTTP request naming an unlisted target is refused the same way.
        const response = await session.request({ method: 'GET', authority: 'web.test', path: '/', scheme: 'http', headers: { 'meshgate-target': '127.0.0.1:22' } }, null)
        response.body.resume()
        assert.equal(response.head.status, 503)
        assert.equal(response.head.headers['meshgate-error'], 'E_TARGET_NOT_ALLOWED')
        // The same session still carries allowed traffic.
        const ok = await session.request({ method: 'GET', authority: 'web.test', path: '/', scheme: 'http', headers: { 'meshgate-target': `127.0.0.1:${good.upstream.httpPort}` } }, null)
        ok.body.resume()
        assert.equal(ok.head.status, 200)
      } finally {
        await session.close()
      }
    })

    it('answers E_UPSTREAM_UNREACHABLE when the workload is down, and E_PEER_UNREACHABLE when the peer is', async () => {
      const pair = await startPair({ dataPlane: plane.name, pki, webTarget: '127.0.0.1:1' })
      try {
        const down = await get(pair.appPort, '/', 'web.test', 15_000)
        assert.equal(down.status, 502)
        assert.equal(down.error, 'E_UPSTREAM_UNREACHABLE')
        await pair.server.close()
        const peerGone = await get(pair.appPort, '/', 'web.test', 15_000)
        assert.equal(peerGone.status, 502)
        assert.equal(peerGone.error, 'E_PEER_UNREACHABLE')
      } finally {
        await pair.close()
      }
    })
  })
}
