// HTTP/1.1 through the meshgate pair over each peer transport: routing, identity, keep-alive, chunked bodies, 100 MB streamed.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import http from 'node:http'
import { Readable } from 'node:stream'
import { startPair, type Pair } from '../helpers/pair.js'
import { run } from '../helpers/exec.js'
import { patternStream } from '../helpers/streams.js'
import { pairTransports, sessionTransports } from '../helpers/transports.js'

interface Reply { status: number, headers: http.IncomingHttpHeaders, body: Buffer, reused: boolean, trailers: NodeJS.Dict<string> }

function request (port: number, options: http.RequestOptions, body?: Readable | string, agent?: http.Agent): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, agent, ...options }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), reused: req.reusedSocket, trailers: res.trailers }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.setTimeout(60_000, () => req.destroy(new Error('test request timed out')))
    if (body === undefined) req.end()
    else if (typeof body === 'string') req.end(body)
    else body.pipe(req)
  })
}

for (const transport of pairTransports()) {
  describe(`HTTP/1.1 through the pair over ${transport.label}`, { skip: transport.skip, timeout: 120_000 }, () => {
    let pair: Pair
    before(async () => { pair = await startPair({ transport: transport.name, dataPlane: transport.dataPlane }) })
    after(async () => { await pair?.close() })

    it('routes by Host and the workload sees the verified caller identity', async () => {
      const reply = await request(pair.appPort, { path: '/hello?x=1', headers: { host: 'web.test', 'meshgate-client-id': 'spiffe://forged/ns/x/sa/y' } })
      assert.equal(reply.status, 200)
      const body = JSON.parse(reply.body.toString()) as { path: string, protocol: string, caller: string }
      assert.equal(body.path, '/hello?x=1')
      assert.equal(body.protocol, 'HTTP/1.1', 'the peer restores HTTP/1.1 towards the workload')
      assert.equal(body.caller, pair.pki.id('client'), 'a forged meshgate-client-id is replaced by the verified one')
      assert.deepEqual(sessionTransports(pair), [transport.name])
    })

    it('keeps the app connection alive across requests', async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
      try {
        const first = await request(pair.appPort, { path: '/a', headers: { host: 'web.test' } }, undefined, agent)
        const second = await request(pair.appPort, { path: '/b', headers: { host: 'web.test' } }, undefined, agent)
        assert.equal(first.status, 200)
        assert.equal(second.status, 200)
        assert.equal(second.reused, true)
      } finally {
        agent.destroy()
      }
    })

    it('streams a chunked upload and the chunked echo back', async () => {
      const chunks = Array.from({ length: 50 }, (_, i) => `chunk-${i}-`.repeat(100))
      const reply = await request(pair.appPort, { method: 'POST', path: '/echo', headers: { host: 'web.test', 'transfer-encoding': 'chunked' } }, Readable.from(chunks))
      assert.equal(reply.status, 200)
      assert.equal(reply.headers['transfer-encoding'], 'chunked')
      const expected = chunks.join('')
      assert.equal(reply.body.length, expected.length)
      assert.ok(reply.body.toString() === expected, 'echoed body differs from what was sent')
    })

    it('carries 100 MB each way with the checksum intact', async () => {
      const size = 100 * 1024 * 1024
      const source = patternStream(size)
      const reply = await request(pair.appPort, { method: 'POST', path: '/echo', headers: { host: 'web.test', 'content-length': String(size) } }, source.stream)
      assert.equal(reply.status, 200)
      assert.equal(reply.body.length, size)
      assert.equal(createHash('sha256').update(reply.body).digest('hex'), source.sha256())
      assert.deepEqual(sessionTransports(pair), [transport.name])
    })

    it('answers curl, a real HTTP/1 client', async () => {
      const out = await run('curl', ['-sS', '-H', 'Host: web.test', '-w', '%{http_code} %{num_connects}\\n', `http://127.0.0.1:${pair.appPort}/a`, `http://127.0.0.1:${pair.appPort}/b`])
      const lines = out.stdout.trim().split('\n')
      assert.match(lines[0] ?? '', /"path":"\/a"/)
      assert.equal(lines[1], '200 1')
      assert.match(lines[2] ?? '', /"path":"\/b"/)
      assert.equal(lines[3], '200 0', 'curl reused the kept-alive connection')
    })

    it('answers expect: 100-continue with a 100, and only then gets and carries the body', async () => {
      const body = 'c'.repeat(300_000)
      const reply = await new Promise<{ status: number, body: string, continued: boolean }>((resolve, reject) => {
        let continued = false
        const req = http.request({
          host: '127.0.0.1',
          port: pair.appPort,
          method: 'POST',
          path: '/echo',
          agent: false,
          headers: { host: 'web.test', expect: '100-continue', 'content-type': 'text/plain', 'content-length': body.length },
        }, (res) => {
          let text = ''
          res.setEncoding('latin1')
          res.on('data', (c: string) => { text += c })
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, continued }))
          res.on('error', reject)
        })
        // The body goes out only once the 100 came: without it the request would hang here.
        req.on('continue', () => { continued = true; req.end(body) })
        req.on('error', reject)
        req.setTimeout(10_000, () => req.destroy(new Error('neither a 100 Continue nor an answer within 10 s')))
      })
      assert.equal(reply.continued, true, 'the app got its 100 Continue')
      assert.equal(reply.status, 200)
      assert.equal(reply.body, body)
    })

    it('passes status codes through and answers an unknown authority with E_NO_ROUTE', async () => {
      const teapot = await request(pair.appPort, { path: '/status/418', headers: { host: 'web.test' } })
      assert.equal(teapot.status, 418)
      const unknown = await request(pair.appPort, { path: '/', headers: { host: 'nobody.test' } })
      assert.equal(unknown.status, 404)
      assert.equal(unknown.headers['meshgate-error'], 'E_NO_ROUTE')
    })
  })
}
