// Identity and TLS refusals through the pair over h3 (`transport: h3`): the same error codes as h2.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { startPair, type Pair } from '../helpers/pair.js'
import { makePki, type TestPki } from '../helpers/pki.js'
import { get, tcpRoundTrip } from '../helpers/clients.js'
import { h3Skip } from '../helpers/transports.js'

const SKIP = h3Skip()

describe('security of the pair over h3', { skip: SKIP }, () => {
  let pki: TestPki
  let good: Pair
  before(async () => {
    pki = await makePki()
    good = await startPair({ pki, transport: 'h3' })
  })
  after(async () => { await good?.close() })

  /** Starts a pair over h3 with `options`, runs `check`, closes it. */
  async function withPair (options: Parameters<typeof startPair>[0], check: (pair: Pair) => Promise<void>): Promise<void> {
    const pair = await startPair({ pki, transport: 'h3', ...options })
    try {
      await check(pair)
    } finally {
      await pair.close()
    }
  }

  it('refuses a client certificate from another CA (E_PEER_TLS), other traffic unaffected', async () => {
    const foreign = await makePki()
    await withPair({ clientTls: { ...(await foreign.workload('client')), ca: pki.ca.cert } }, async (pair) => {
      const reply = await get(pair.appPort, '/', 'web.test', 15_000)
      assert.equal(reply.status, 502)
      assert.equal(reply.error, 'E_PEER_TLS')
      assert.equal((await get(good.appPort, '/', 'web.test', 15_000)).status, 200)
    })
  })

  it('refuses a server whose identity is not the one discovery expects (E_PEER_IDENTITY)', async () => {
    await withPair({ expectIdentity: pki.id('someone-else') }, async (pair) => {
      const reply = await get(pair.appPort, '/', 'web.test', 15_000)
      assert.equal(reply.status, 502)
      assert.equal(reply.error, 'E_PEER_IDENTITY')
      assert.match(reply.body, /someone-else/)
    })
  })

  it('refuses an expired server certificate (E_PEER_TLS)', async () => {
    await withPair({ serverTls: await pki.workload('server', { expired: true }) }, async (pair) => {
      const reply = await get(pair.appPort, '/', 'web.test', 15_000)
      assert.equal(reply.status, 502)
      assert.equal(reply.error, 'E_PEER_TLS')
      assert.match(reply.body, /expired/i)
    })
  })

  it('refuses an expired client certificate at the inbound side (E_PEER_TLS)', async () => {
    await withPair({ clientTls: await pki.workload('client', { expired: true }) }, async (pair) => {
      const reply = await get(pair.appPort, '/', 'web.test', 15_000)
      assert.equal(reply.status, 502)
      assert.equal(reply.error, 'E_PEER_TLS')
    })
  })

  it('refuses a caller that is not on the allow list (E_FORBIDDEN) for HTTP and TCP', async () => {
    await withPair({ allow: [pki.id('only-this-one')] }, async (pair) => {
      const reply = await get(pair.appPort, '/', 'web.test', 15_000)
      assert.equal(reply.status, 403)
      assert.equal(reply.error, 'E_FORBIDDEN')
      assert.equal(await tcpRoundTrip(pair.tcpPort), '', 'the TCP connection is closed without data')
      assert.equal((await get(good.appPort, '/', 'web.test', 15_000)).status, 200)
    })
  })

  it('an auto endpoint whose peer has the wrong identity fails the same way over h2 (no fallback around identity)', async () => {
    await withPair({ transport: 'auto', expectIdentity: pki.id('someone-else') }, async (pair) => {
      const reply = await get(pair.appPort, '/', 'web.test', 15_000)
      assert.equal(reply.status, 502)
      assert.equal(reply.error, 'E_PEER_IDENTITY')
    })
  })
})
