// WebSocket (HTTP/1.1 Upgrade) through the pair over each peer transport: extended CONNECT between the proxies (RFC 8441, RFC 9220), restored at the peer.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { WebSocket, WebSocketServer } from 'ws'
import { startPair, type Pair } from '../helpers/pair.js'
import { pairTransports, sessionTransports } from '../helpers/transports.js'

for (const transport of pairTransports()) {
  describe(`WebSocket through the pair over ${transport.label}`, { skip: transport.skip, timeout: 30_000 }, () => {
    let wss: WebSocketServer
    let pair: Pair
    let seenCaller: string | undefined
    before(async () => {
      wss = new WebSocketServer({ host: '127.0.0.1', port: 0, verifyClient: (info: { req: { url?: string } }) => info.req.url !== '/deny' })
      await new Promise((resolve) => wss.once('listening', resolve))
      wss.on('connection', (ws, req) => {
        seenCaller = req.headers['meshgate-client-id'] as string | undefined
        ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }))
      })
      // The pair's web target is the WebSocket server instead of the demo upstream.
      pair = await startPair({ transport: transport.name, dataPlane: transport.dataPlane, webTarget: `127.0.0.1:${(wss.address() as { port: number }).port}` })
    })
    after(async () => {
      await pair?.close()
      for (const client of wss.clients) client.terminate()
      await new Promise((resolve) => wss.close(resolve))
    })

    it('echoes text and binary messages and the workload sees the verified caller', async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${pair.appPort}/chat`, { headers: { host: 'web.test' }, handshakeTimeout: 10_000 })
      await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
      const replies: string[] = []
      const gotAll = new Promise<void>((resolve) => ws.on('message', (data, isBinary) => {
        replies.push(isBinary ? `bin:${(data as Buffer).toString('hex')}` : (data as Buffer).toString())
        if (replies.length === 3) resolve()
      }))
      ws.send('hello')
      ws.send(Buffer.from([1, 2, 3]))
      ws.send('x'.repeat(200_000))
      await gotAll
      assert.equal(replies[0], 'hello')
      assert.equal(replies[1], 'bin:010203')
      assert.equal(replies[2]?.length, 200_000)
      assert.equal(seenCaller, pair.pki.id('client'))
      assert.deepEqual(sessionTransports(pair), [transport.name])
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))
      ws.close(1000, 'done')
      assert.equal(await closed, 1000)
    })

    it('answers an upgrade the workload refuses with an error response on the app connection', async () => {
      const socket = net.connect(pair.appPort, '127.0.0.1')
      const chunks: Buffer[] = []
      const reply = new Promise<string>((resolve, reject) => {
        socket.on('data', (c: Buffer) => chunks.push(c))
        socket.on('end', () => resolve(Buffer.concat(chunks).toString()))
        socket.on('close', () => resolve(Buffer.concat(chunks).toString()))
        socket.on('error', reject)
        socket.setTimeout(10_000, () => socket.destroy(new Error('timed out')))
      })
      socket.write('GET /deny HTTP/1.1\r\nHost: web.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n')
      const text = await reply
      socket.destroy()
      assert.match(text, /^HTTP\/1\.1 50[24] /)
      assert.match(text, /meshgate-error: E_UPSTREAM_RESET/i)
    })
  })
}
