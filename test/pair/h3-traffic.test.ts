// The pair over h3 (endpoints `transport: h3`): HTTP/1, h2c, raw TCP and WebSocket between the proxies over QUIC, 100 MB each way with checksums.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import http from 'node:http'
import http2 from 'node:http2'
import net from 'node:net'
import { WebSocket, WebSocketServer } from 'ws'
import { h3Availability } from '../../transports/h3/index.js'
import { startPair, type Pair } from '../helpers/pair.js'
import { patternStream } from '../helpers/streams.js'

const availability = h3Availability()
const SKIP: string | false = availability.available ? false : `QUIC addon not built (${availability.installHint})`
const MiB = 1024 * 1024

/** The transports of the outbound side's pooled peer sessions. */
function sessionTransports (pair: Pair): string[] {
  return pair.client.outbound?.pool.sessions().map((s) => s.transport) ?? []
}

interface Reply { status: number, headers: http.IncomingHttpHeaders, body: Buffer }

function request (port: number, options: http.RequestOptions, body?: NodeJS.ReadableStream | string): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, ...options }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.setTimeout(60_000, () => req.destroy(new Error('test request timed out')))
    if (body === undefined) req.end()
    else if (typeof body === 'string') req.end(body)
    else body.pipe(req)
  })
}

/** Sends `size` pattern bytes over a raw TCP connection and hashes the echo until its FIN. */
async function tcpRoundTrip (port: number, size: number): Promise<{ received: number, sha256: string, sent: string }> {
  const source = patternStream(size, 11)
  const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true })
  const hash = createHash('sha256')
  let received = 0
  await new Promise<void>((resolve, reject) => {
    socket.setTimeout(60_000, () => socket.destroy(new Error('timed out')))
    socket.on('data', (c: Buffer) => { received += c.length; hash.update(c) })
    socket.on('end', () => resolve())
    socket.on('error', reject)
    source.stream.pipe(socket)
  })
  socket.destroy()
  return { received, sha256: hash.digest('hex'), sent: source.sha256() }
}

describe('the pair over h3', { skip: SKIP }, () => {
  let pair: Pair
  before(async () => { pair = await startPair({ transport: 'h3', outboundExtra: 'timeouts: { detectMs: 200ms }' }) })
  after(async () => { await pair?.close() })

  it('listens for h3 on the UDP port of its h2 listener', () => {
    const addresses = pair.server.inbound?.addresses() ?? []
    const h2 = addresses.find((a) => a.transport === 'h2')
    const h3 = addresses.find((a) => a.transport === 'h3')
    assert.ok(h2 !== undefined && h3 !== undefined, JSON.stringify(addresses))
    assert.equal(h3.port, h2.port)
  })

  it('HTTP/1: routes by Host over h3 and the workload sees HTTP/1.1 from the verified caller', async () => {
    const reply = await request(pair.appPort, { path: '/hello', headers: { host: 'web.test', 'meshgate-client-id': 'spiffe://forged/ns/x/sa/y' } })
    assert.equal(reply.status, 200)
    const body = JSON.parse(reply.body.toString()) as { path: string, protocol: string, caller: string }
    assert.equal(body.path, '/hello')
    assert.equal(body.protocol, 'HTTP/1.1')
    assert.equal(body.caller, pair.pki.id('client'))
    assert.deepEqual([...new Set(sessionTransports(pair))], ['h3'])
  })

  it('HTTP/1: carries 100 MB each way with the checksum intact', async () => {
    const size = 100 * MiB
    const source = patternStream(size)
    const reply = await request(pair.appPort, { method: 'POST', path: '/echo', headers: { host: 'web.test', 'content-length': String(size) } }, source.stream)
    assert.equal(reply.status, 200)
    assert.equal(reply.body.length, size)
    assert.equal(createHash('sha256').update(reply.body).digest('hex'), source.sha256())
  })

  it('h2c: 200 concurrent streams and trailers end to end over h3', async () => {
    const session = http2.connect(`http://127.0.0.1:${pair.appPort}`)
    try {
      const one = async (headers: http2.OutgoingHttpHeaders, body?: string): Promise<{ status: number, body: string, trailers?: http2.IncomingHttpHeaders }> =>
        await new Promise((resolve, reject) => {
          const stream = session.request(headers, { endStream: body === undefined })
          let status = 0
          let data = ''
          let trailers: http2.IncomingHttpHeaders | undefined
          stream.setEncoding('utf8')
          stream.on('response', (h) => { status = Number(h[':status']) })
          stream.on('trailers', (t) => { trailers = t })
          stream.on('data', (c: string) => { data += c })
          stream.on('end', () => resolve({ status, body: data, trailers }))
          stream.on('error', reject)
          if (body !== undefined) stream.end(body)
        })
      const first = JSON.parse((await one({ ':path': '/h2', ':authority': 'web.test' })).body) as { protocol: string, caller: string }
      assert.equal(first.protocol, 'HTTP/2.0')
      assert.equal(first.caller, pair.pki.id('client'))
      const replies = await Promise.all(Array.from({ length: 200 }, async (_, i) =>
        await one({ ':method': 'POST', ':path': `/echo/${i}`, ':authority': 'web.test' }, `payload-${i}`)))
      replies.forEach((reply, i) => assert.equal(reply.body, `payload-${i}`))
      const withTrailers = await one({ ':method': 'POST', ':path': '/t', ':authority': 'web.test', 'trailer-echo': 'grpc-status=0' }, 'x'.repeat(100_000))
      assert.equal(withTrailers.body.length, 100_000)
      assert.equal(withTrailers.trailers?.['x-echo'], 'grpc-status=0')
    } finally {
      session.close()
    }
  })

  it('TCP: the half-close travels through a CONNECT stream over h3', async () => {
    const socket = net.connect({ host: '127.0.0.1', port: pair.tcpPort, allowHalfOpen: true })
    const chunks: Buffer[] = []
    const done = new Promise<string>((resolve, reject) => {
      socket.on('data', (c: Buffer) => chunks.push(c))
      socket.on('end', () => resolve(Buffer.concat(chunks).toString()))
      socket.on('error', reject)
      socket.setTimeout(10_000, () => socket.destroy(new Error('timed out')))
    })
    socket.write('part one, ')
    socket.end('part two')
    assert.equal(await done, 'part one, part two')
    socket.destroy()
  })

  it('TCP: carries 100 MB each way with checksums intact', async () => {
    const result = await tcpRoundTrip(pair.tcpPort, 100 * MiB)
    assert.equal(result.received, 100 * MiB)
    assert.equal(result.sha256, result.sent)
    assert.deepEqual([...new Set(sessionTransports(pair))], ['h3'])
  })
})

describe('WebSocket through the pair over h3 (extended CONNECT, RFC 9220)', { skip: SKIP }, () => {
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
    pair = await startPair({ transport: 'h3', webTarget: `127.0.0.1:${(wss.address() as { port: number }).port}` })
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
    assert.deepEqual(replies.slice(0, 2), ['hello', 'bin:010203'])
    assert.equal(replies[2]?.length, 200_000)
    assert.equal(seenCaller, pair.pki.id('client'))
    assert.deepEqual([...new Set(sessionTransports(pair))], ['h3'])
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))
    ws.close(1000, 'done')
    assert.equal(await closed, 1000)
  })
})
