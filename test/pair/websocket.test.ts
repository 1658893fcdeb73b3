// WebSocket (HTTP/1.1 Upgrade) through the pair: extended CONNECT between the proxies, restored at the peer.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { WebSocket, WebSocketServer } from 'ws'
import { startPair, type Pair } from '../helpers/pair.js'

describe('WebSocket through the pair', () => {
  let pair: Pair
  let wss: WebSocketServer
  let wsPort = 0
  let seenCaller: string | undefined
  before(async () => {
    wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
    await new Promise((resolve) => wss.once('listening', resolve))
    wsPort = (wss.address() as { port: number }).port
    wss.on('connection', (ws, req) => {
      seenCaller = req.headers['meshgate-client-id'] as string | undefined
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }))
    })
    pair = await startPair({
      inboundExtra: '',
      outboundExtra: '',
    })
  })
  after(async () => {
    await pair.close()
    for (const client of wss.clients) client.terminate()
    await new Promise((resolve) => wss.close(resolve))
  })

  it('echoes text and binary messages and the workload sees the verified caller', async () => {
    // The pair's inbound side allows the demo targets only; route this test through a pair whose
    // web target is the WebSocket server.
    const wsPair = await startPair({ pki: pair.pki, webTarget: `127.0.0.1:${wsPort}` })
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${wsPair.appPort}/chat`, { headers: { host: 'web.test' }, handshakeTimeout: 10_000 })
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
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))
      ws.close(1000, 'done')
      assert.equal(await closed, 1000)
    } finally {
      await wsPair.close()
    }
  })
})
