// Peer sessions are pooled: many streams share one session, a new one opens at the peer's stream
// limit, and a peer that went away is dialled again (after backoff) once it is back.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { pino } from 'pino'
import { parseConfig } from '../../src/config/load.js'
import { startProxy } from '../../src/proxy.js'
import { startPair } from '../helpers/pair.js'
import { DATA_PLANES } from '../helpers/transports.js'
import { get } from '../helpers/clients.js'

for (const plane of DATA_PLANES) {
  describe(`peer session pool (${plane.name} data plane)`, { skip: plane.skip }, () => {
    it('shares one session across concurrent requests', async () => {
      const pair = await startPair({ dataPlane: plane.name })
      try {
        const replies = await Promise.all(Array.from({ length: 20 }, async () => await get(pair.appPort, '/delay/100')))
        assert.ok(replies.every((r) => r.status === 200))
        assert.equal(pair.client.outbound?.pool.sessions().length, 1)
      } finally {
        await pair.close()
      }
    })

    it('opens another session when the peer\'s stream limit is reached', async () => {
      const pair = await startPair({ dataPlane: plane.name, inboundExtra: 'h2: { maxConcurrentStreams: 2 }' })
      try {
        const replies = await Promise.all(Array.from({ length: 6 }, async () => await get(pair.appPort, '/delay/300')))
        assert.deepEqual(replies.map((r) => r.status), [200, 200, 200, 200, 200, 200])
        const sessions = pair.client.outbound?.pool.sessions().length ?? 0
        assert.ok(sessions >= 3, `6 concurrent streams at 2 per session need at least 3 sessions, saw ${sessions}`)
      } finally {
        await pair.close()
      }
    })

    it('dials the peer again once it is back after an outage', async () => {
      const pair = await startPair({ dataPlane: plane.name })
      try {
        assert.equal((await get(pair.appPort, '/')).status, 200)
        const serverConfig = pair.server.inbound === undefined
          ? undefined
          : parseConfig(`
log: { level: silent }
admin: false
inbound:
  tls: { ca: server-ca.crt, cert: server.crt, key: server.key }
  listeners: [{ host: 127.0.0.1, port: ${pair.peerPort} }]
  targets:
    - { address: "127.0.0.1:${pair.upstream.httpPort}", protocol: auto, allow: ["spiffe://test.local"] }
`, join(pair.dir, 'server-again.yaml'))
        await pair.server.close()
        const down = await get(pair.appPort, '/')
        assert.equal(down.status, 502)
        assert.equal(down.error, 'E_PEER_UNREACHABLE')
        assert.ok(serverConfig !== undefined)
        const again = await startProxy(serverConfig, pino({ level: 'silent' }))
        try {
          let status = 0
          for (let attempt = 0; attempt < 50 && status !== 200; attempt++) {
            status = (await get(pair.appPort, '/')).status
            if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100))
          }
          assert.equal(status, 200, 'traffic flows again once the peer is back')
        } finally {
          await again.close()
        }
      } finally {
        await pair.close()
      }
    })
  })
}
