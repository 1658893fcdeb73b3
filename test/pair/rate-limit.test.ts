// Inbound local rate limiting through a real pair: per caller identity and in total, 429
// E_RATE_LIMITED, counted by identity; another caller keeps its own bucket. On both data planes.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pino } from 'pino'
import { parseConfig } from '../../src/config/load.js'
import { startProxy, type RunningProxy } from '../../src/proxy.js'
import { get } from '../helpers/clients.js'
import { startPair, type Pair } from '../helpers/pair.js'
import { counter } from '../helpers/route-metrics.js'
import { DATA_PLANES } from '../helpers/transports.js'

for (const plane of DATA_PLANES) {
  describe(`rate limits (${plane.name} data plane)`, { skip: plane.skip }, () => {
    let pair: Pair
    let other: RunningProxy
    let otherPort: number
    before(async () => {
      const pki = await (await import('../helpers/pki.js')).makePki()
      // Rates so low that no token comes back during the test: only the bursts count.
      pair = await startPair({
        dataPlane: plane.name,
        pki,
        inboundRateLimit: `{ total: { perSecond: 0.001, burst: 8 }, perIdentity: { perSecond: 0.001, burst: 6 }, identities: { "${pki.id('client')}": { perSecond: 0.001, burst: 3 } } }`,
      })
      const tls = await pki.workload('other')
      await writeFile(join(pair.dir, 'other.crt'), tls.cert)
      await writeFile(join(pair.dir, 'other.key'), tls.key, { mode: 0o600 })
      await writeFile(join(pair.dir, 'other-ca.crt'), tls.ca)
      other = await startProxy(parseConfig(`
log: { level: silent }
dataPlane: ${plane.name}
admin: false
services:
  web:
    aliases: [web.test]
    endpoints: [{ peer: "127.0.0.1:${pair.peerPort}", identity: "${pki.id('server')}", target: "127.0.0.1:${pair.upstream.httpPort}" }]
outbound:
  tls: { ca: other-ca.crt, cert: other.crt, key: other.key }
  listeners: [{ host: 127.0.0.1, port: 0, protocol: http1 }]
`, join(pair.dir, 'other.yaml')), pino({ level: 'silent' }))
      otherPort = other.outbound?.listeners[0]?.address().port ?? 0
    })
    after(async () => {
      await other.close()
      await pair.close()
    })

    it('refuses a caller past its own burst with 429 E_RATE_LIMITED; another caller has its own bucket; then the total', async () => {
      const mine = []
      for (let i = 0; i < 5; i++) mine.push(await get(pair.appPort, '/'))
      assert.deepEqual(mine.map((r) => r.status), [200, 200, 200, 429, 429], 'the override: a burst of 3')
      assert.equal(mine[3].error, 'E_RATE_LIMITED')
      const theirs = []
      for (let i = 0; i < 7; i++) theirs.push((await get(otherPort, '/')).status)
      // Their burst is the default 6, but 3 of mine and 5 of theirs use up the total of 8: their
      // 6th is refused by the total (their own bucket still had a token), their 7th by their own.
      assert.deepEqual(theirs, [200, 200, 200, 200, 200, 429, 429])
      assert.equal(await counter(pair.server, 'meshgate_rate_limited_total', { identity: pair.pki.id('client'), limit: 'identity' }), 2)
      assert.equal(await counter(pair.server, 'meshgate_rate_limited_total', { identity: pair.pki.id('client'), limit: 'total' }), 0)
      assert.equal(await counter(pair.server, 'meshgate_rate_limited_total', { identity: pair.pki.id('other'), limit: 'total' }), 1)
      assert.equal(await counter(pair.server, 'meshgate_rate_limited_total', { identity: pair.pki.id('other'), limit: 'identity' }), 1)
    })
  })
}
