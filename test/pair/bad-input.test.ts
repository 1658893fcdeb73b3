// Bad input at the pair's edges gets a precise answer and disturbs no other connection.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import http2 from 'node:http2'
import net from 'node:net'
import { startPair, type Pair } from '../helpers/pair.js'
import { DATA_PLANES } from '../helpers/transports.js'
import { get } from '../helpers/clients.js'

/** Writes raw bytes and reads until the server closes (or 10 s pass). */
function raw (port: number, bytes: string | Buffer): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    let data = ''
    socket.setTimeout(10_000, () => socket.destroy())
    socket.on('data', (c: Buffer) => { data += c.toString('latin1') })
    socket.on('close', () => resolve(data))
    socket.on('error', () => {})
    socket.on('connect', () => socket.write(bytes))
  })
}

for (const plane of DATA_PLANES) {
  describe(`bad input (${plane.name} data plane)`, { skip: plane.skip }, () => {
    let pair: Pair
    before(async () => { pair = await startPair({ dataPlane: plane.name, outboundExtra: 'limits: { maxHeaderBytes: 8KiB }' }) })
    after(async () => { await pair.close() })

    it('answers a malformed HTTP/1 request line with 400 E_BAD_REQUEST', async () => {
      const reply = await raw(pair.appPort, 'GET /a b c HTTP/1.1\r\nHost: web.test\r\n\r\n')
      assert.match(reply, /^HTTP\/1\.1 400 /)
      assert.match(reply, /meshgate-error: E_BAD_REQUEST/i)
      assert.equal((await get(pair.appPort)).status, 200, 'other connections are unaffected')
    })

    it('answers a request without Host with 400 E_BAD_REQUEST', async () => {
      const reply = await raw(pair.appPort, 'GET / HTTP/1.0\r\n\r\n')
      assert.match(reply, /^HTTP\/1\.[01] 400 /)
      assert.match(reply, /meshgate-error: E_BAD_REQUEST/i)
    })

    it('answers oversized headers with 431 E_HEADERS_TOO_LARGE', async () => {
      const reply = await raw(pair.appPort, `GET / HTTP/1.1\r\nHost: web.test\r\nx-big: ${'a'.repeat(16 * 1024)}\r\n\r\n`)
      assert.match(reply, /^HTTP\/1\.1 431 /)
      assert.match(reply, /meshgate-error: E_HEADERS_TOO_LARGE/i)
      assert.equal((await get(pair.appPort)).status, 200)
    })

    it('survives garbage after the HTTP/2 preface and garbage on the peer port', async () => {
      await raw(pair.appPort, Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.alloc(64, 0xff)]))
      await raw(pair.peerPort, Buffer.alloc(300, 0x41))
      await raw(pair.peerPort, 'GET / HTTP/1.1\r\nHost: x\r\n\r\n')
      assert.equal((await get(pair.appPort)).status, 200, 'the pair still works')
    })

    it('resets only the affected h2c stream when the workload dies mid-response', async () => {
    // /delay/… is answered after a pause; closing the upstream in between cuts that exchange only.
      const session = http2.connect(`http://127.0.0.1:${pair.appPort}`)
      try {
        const ok = await new Promise<number>((resolve, reject) => {
          const s = session.request({ ':path': '/', ':authority': 'web.test' })
          s.on('response', (h) => resolve(Number(h[':status'])))
          s.on('error', reject)
          s.resume()
        })
        assert.equal(ok, 200)
        const slow = new Promise<string>((resolve) => {
          const s = session.request({ ':path': '/delay/3000', ':authority': 'web.test' })
          s.on('response', (h) => resolve(`status ${String(h[':status'])} ${String(h['meshgate-error'])}`))
          s.on('error', (e) => resolve(`error ${e.message}`))
          s.resume()
        })
        await new Promise((resolve) => setTimeout(resolve, 200))
        await pair.upstream.close()
        const outcome = await slow
        assert.match(outcome, /status 502 E_UPSTREAM_RESET|error/)
        assert.equal(session.destroyed, false, 'the app connection survives')
      } finally {
        session.close()
      }
    })
  })
}
