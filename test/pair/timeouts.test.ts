// Timeouts are answered, never hung: connect, response head and idle, each with its code.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { startPair, type Pair } from '../helpers/pair.js'
import { DATA_PLANES } from '../helpers/transports.js'
import { get } from '../helpers/clients.js'

for (const plane of DATA_PLANES) {
  describe(`timeouts (${plane.name} data plane)`, { skip: plane.skip }, () => {
    let blackhole: net.Server
    const held = new Set<net.Socket>()
    let pair: Pair
    before(async () => {
    // Accepts TCP and never answers the TLS handshake.
      blackhole = net.createServer((s) => { held.add(s); s.on('error', () => {}) })
      await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', resolve))
      pair = await startPair({ dataPlane: plane.name, outboundExtra: 'timeouts: { connectMs: 300ms, requestMs: 400ms, idleMs: 300ms }' })
    })
    after(async () => {
      await pair.close()
      for (const s of held) s.destroy()
      await new Promise((resolve) => blackhole.close(resolve))
    })

    it('answers 504 E_REQUEST_TIMEOUT when the response head is late', async () => {
      const reply = await get(pair.appPort, '/delay/3000')
      assert.equal(reply.status, 504)
      assert.equal(reply.error, 'E_REQUEST_TIMEOUT')
      assert.equal((await get(pair.appPort, '/delay/10')).status, 200, 'a timely request on the same pair is fine')
    })

    it('answers 504 E_CONNECT_TIMEOUT when the peer never completes the handshake', async () => {
      const port = (blackhole.address() as net.AddressInfo).port
      const stuck = await startPair({ dataPlane: plane.name, pki: pair.pki, webPeer: `127.0.0.1:${port}`, outboundExtra: 'timeouts: { connectMs: 300ms }' })
      try {
        const reply = await get(stuck.appPort, '/')
        assert.equal(reply.status, 504)
        assert.equal(reply.error, 'E_CONNECT_TIMEOUT')
      } finally {
        await stuck.close()
      }
    })

    it('closes a TCP tunnel idle for longer than idleMs', async () => {
      const socket = net.connect({ host: '127.0.0.1', port: pair.tcpPort })
      socket.on('error', () => {})
      socket.resume() // read the echo, so 'close' can follow the end of the stream
      const started = Date.now()
      socket.write('wake')
      const closedAfter = await new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now() - started)))
      assert.ok(closedAfter >= 250, `closed only after the idle time (${closedAfter} ms)`)
      assert.ok(closedAfter < 5000, `closed by the idle timeout, not by the test bound (${closedAfter} ms)`)
    })
  })
}
