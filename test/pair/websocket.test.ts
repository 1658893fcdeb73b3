// WebSocket (HTTP/1.1 Upgrade) through the pair over each peer transport: extended CONNECT between the proxies (RFC 8441, RFC 9220), restored at the peer.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { WebSocket, WebSocketServer } from 'ws'
import { startPair, type Pair } from '../helpers/pair.js'
import { pairTransports, sessionTransports } from '../helpers/transports.js'

for (const transport of pairTransports()) {
  describe(`WebSocket through the pair over ${transport.label}`, { skip: transport.skip, timeout: 30_000 }, () => {
    let wss: WebSocketServer
    let pair: Pair
    let seenCaller: string | undefined
    before(async () => {
      wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
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
  })
}
