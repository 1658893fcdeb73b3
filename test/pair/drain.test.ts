// Graceful drain: requests and tunnels in flight finish, new connections are refused.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import net from 'node:net'
import { startPair } from '../helpers/pair.js'
import { DATA_PLANES } from '../helpers/transports.js'

for (const plane of DATA_PLANES) {
  describe(`drain (${plane.name} data plane)`, { skip: plane.skip }, () => {
    it('lets in-flight requests and tunnels finish, then stops accepting', async () => {
      const pair = await startPair({ dataPlane: plane.name })
      try {
        const inflight = Array.from({ length: 5 }, async (_, i) => await new Promise<number>((resolve, reject) => {
          http.get({ host: '127.0.0.1', port: pair.appPort, path: `/delay/${400 + i * 50}`, headers: { host: 'web.test' }, agent: false }, (res) => {
            res.resume()
            res.on('end', () => resolve(res.statusCode ?? 0))
          }).on('error', reject)
        }))
        const tunnel = net.connect({ host: '127.0.0.1', port: pair.tcpPort, allowHalfOpen: true })
        tunnel.on('error', () => {})
        const echoed = new Promise<string>((resolve) => {
          let data = ''
          tunnel.on('data', (c: Buffer) => { data += c.toString() })
          tunnel.on('end', () => resolve(data))
        })
        tunnel.write('before drain, ')
        await new Promise((resolve) => setTimeout(resolve, 150))

        const drained = pair.client.drain(10_000)
        await new Promise((resolve) => setTimeout(resolve, 50))
        await assert.rejects(new Promise((resolve, reject) => {
          const s = net.connect({ host: '127.0.0.1', port: pair.appPort })
          s.on('connect', () => { s.destroy(); resolve(undefined) })
          s.on('error', reject)
        }), /ECONNREFUSED/, 'the listener no longer accepts')
        tunnel.end('after drain began')
        assert.deepEqual(await Promise.all(inflight), [200, 200, 200, 200, 200])
        assert.equal(await echoed, 'before drain, after drain began')
        await drained
      } finally {
        await pair.close()
      }
    })
  })
}
