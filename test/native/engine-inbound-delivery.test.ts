// Native inbound delivery (native/engine/src/workload-http1.*, docs/native-http.md stage 5)
// through a real pair on the native data plane, against a workload of the test's own (node:http,
// counting its connections and keeping what it was sent): JS grants a session the configured
// targets as it opens, and the engine delivers the session's requests, its first one included,
// over a keep-alive pool (meshgate_inbound_http_data_path_total). Bodies both ways, chunked
// uploads, trailers, HEAD/204/304, the mesh headers, workload failures answered with their codes,
// a seeded run of mutated responses, and grants withdrawn when a rate limit comes in. Named
// engine-* so native/sanitize.sh runs it under ASan/UBSan.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { spawn } from 'node:child_process'
import { startPair, type Pair } from '../helpers/pair.js'
import { fuzzSeed, prng, SeededGen } from '../helpers/seeded-random.js'
import { h2NativeAvailability } from '../../transports/h2-native/index.js'

const native = h2NativeAvailability()
const skip = native.available ? false : `the native engine does not load: ${native.available ? '' : native.reason.split('\n')[0] ?? ''}`

interface Seen { method: string, url: string, headers: http.IncomingHttpHeaders, body: number }

/** The workload: answers by path; raw misbehaviour under /raw/… (written on the socket itself). */
class Workload {
  readonly server: http.Server
  readonly seen: Seen[] = []
  connections = 0
  rawReplies = new Map<string, Buffer>()

  constructor () {
    this.server = http.createServer((req, res) => this.handle(req, res))
    this.server.keepAliveTimeout = 10_000
    this.server.on('connection', () => { this.connections++ })
  }

  async listen (): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    return (this.server.address() as AddressInfo).port
  }

  handle (req: IncomingMessage, res: ServerResponse): void {
    let body = 0
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => { body += c.length; chunks.push(c) })
    req.on('end', () => {
      this.seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body })
      const url = req.url ?? ''
      const socket = req.socket as Socket
      const raw = this.rawReplies.get(url)
      if (raw !== undefined) {
        socket.end(raw)
        return
      }
      if (url === '/hangup') { socket.destroy(); return }
      if (url === '/slow') return // never answers
      if (url === '/cut') {
        res.writeHead(200, { 'content-length': '100000' })
        res.write('x'.repeat(1000))
        setTimeout(() => socket.destroy(), 50)
        return
      }
      if (url === '/trailers') {
        res.writeHead(200, { trailer: 'x-sum' })
        res.write('abc')
        res.addTrailers({ 'x-sum': '42' })
        res.end()
        return
      }
      const status = /^\/status\/(\d{3})$/.exec(url)
      if (status !== null) {
        res.writeHead(Number(status[1]))
        res.end()
        return
      }
      if (req.method === 'POST') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' })
        res.end(Buffer.concat(chunks))
        return
      }
      res.writeHead(200, { 'content-type': 'text/plain', 'x-from': 'workload' })
      res.end(req.method === 'HEAD' ? undefined : `hello ${url}\n`)
    })
  }

  async close (): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}

interface Answer { status: number, headers: http.IncomingHttpHeaders, body: Buffer, trailers: NodeJS.Dict<string>, error?: string }

function request (port: number, path: string, options: { method?: string, body?: Buffer | string, chunked?: boolean, headers?: http.OutgoingHttpHeaders } = {}): Promise<Answer> {
  return new Promise((resolve) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', agent: false, headers: { host: 'web.test', ...options.headers } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), trailers: res.trailers }))
      res.on('error', (err) => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), trailers: {}, error: err.message }))
      res.on('aborted', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), trailers: {}, error: 'aborted' }))
    })
    req.on('error', (err) => resolve({ status: 0, headers: {}, body: Buffer.alloc(0), trailers: {}, error: err.message }))
    req.setTimeout(20_000, () => req.destroy(new Error('test request timed out')))
    if (options.chunked === true && options.body !== undefined) {
      const body = Buffer.from(options.body)
      const step = Math.ceil(body.length / 4)
      for (let i = 0; i < body.length; i += step) req.write(body.subarray(i, i + step))
      req.end()
    } else {
      req.end(options.body)
    }
  })
}

async function inboundPath (pair: Pair, path: 'native' | 'js'): Promise<number> {
  const text = await pair.server.metrics.registry.metrics()
  const line = text.split('\n').find((l) => l.startsWith(`meshgate_inbound_http_data_path_total{path="${path}"}`))
  return line === undefined ? 0 : Number(line.split(' ').pop())
}

describe('native inbound delivery over HTTP/1', { skip, timeout: 120_000 }, () => {
  let pair: Pair
  let workload: Workload
  let firstPaths: { native: number, js: number } = { native: -1, js: -1 }
  before(async () => {
    workload = new Workload()
    const port = await workload.listen()
    pair = await startPair({ transport: 'h2', dataPlane: 'native', inboundH3: false, webTarget: `127.0.0.1:${port}`, inboundExtra: 'timeouts: { requestMs: 600 }' })
    assert.equal((await request(pair.appPort, '/first')).status, 200)
    firstPaths = { native: await inboundPath(pair, 'native'), js: await inboundPath(pair, 'js') }
  })
  after(async () => {
    await pair?.close()
    await workload?.close()
  })

  it('delivers a session\'s first request natively too: the configured targets are granted as it opens', () => {
    assert.deepEqual(firstPaths, { native: 1, js: 0 })
  })

  it('delivers a session\'s later requests natively, with the mesh headers, over a keep-alive pool', async () => {
    const nativeBefore = await inboundPath(pair, 'native')
    const jsBefore = await inboundPath(pair, 'js')
    const connectionsBefore = workload.connections
    for (let i = 0; i < 20; i++) {
      const r = await request(pair.appPort, `/n${i}?q=1`, { headers: { cookie: 'a=1', 'x-custom': 'v' } })
      assert.equal(r.status, 200)
      assert.equal(r.body.toString(), `hello /n${i}?q=1\n`)
      assert.equal(r.headers['x-from'], 'workload')
    }
    assert.equal(await inboundPath(pair, 'native'), nativeBefore + 20)
    assert.equal(await inboundPath(pair, 'js'), jsBefore)
    assert.ok(workload.connections - connectionsBefore <= 2, `20 sequential requests took ${workload.connections - connectionsBefore} new connections`)
    const seen = workload.seen.at(-1)
    assert.ok(seen !== undefined)
    assert.equal(seen.headers['meshgate-client-id'], pair.pki.id('client'))
    assert.equal(seen.headers.host, 'web.test')
    assert.equal(seen.headers['x-custom'], 'v')
    assert.equal(seen.headers.cookie, 'a=1')
    assert.equal(seen.headers['meshgate-target'], undefined)
    assert.equal(seen.headers['meshgate-orig-proto'], undefined)
    assert.ok(typeof seen.headers['x-request-id'] === 'string')
  })

  it('moves request and response bodies both ways, chunked or sized, and passes trailers on', async () => {
    const big = Buffer.alloc(3_000_000, 7)
    const sized = await request(pair.appPort, '/echo', { method: 'POST', body: big })
    assert.equal(sized.status, 200)
    assert.ok(sized.body.equals(big))
    const chunked = await request(pair.appPort, '/echo', { method: 'POST', body: 'abcdefghij'.repeat(10_000), chunked: true })
    assert.equal(chunked.status, 200)
    assert.equal(chunked.body.toString(), 'abcdefghij'.repeat(10_000))
    assert.equal(workload.seen.at(-1)?.headers['transfer-encoding'], 'chunked')
    const empty = await request(pair.appPort, '/echo', { method: 'POST', body: '' })
    assert.equal(empty.status, 200)
    assert.equal(empty.body.length, 0)
    const trailers = await request(pair.appPort, '/trailers')
    assert.equal(trailers.body.toString(), 'abc')
    assert.equal(trailers.trailers['x-sum'], '42')
  })

  it('frames HEAD, 204 and 304 answers without a body', async () => {
    const head = await request(pair.appPort, '/h', { method: 'HEAD' })
    assert.equal(head.status, 200)
    assert.equal(head.body.length, 0)
    assert.equal((await request(pair.appPort, '/status/204')).status, 204)
    assert.equal((await request(pair.appPort, '/status/304')).status, 304)
    assert.equal((await request(pair.appPort, '/status/503')).status, 503)
    assert.equal((await request(pair.appPort, '/after')).status, 200)
  })

  it('keeps the workload\'s fields as sent: an empty value, repeated fields, values\' case, hop-by-hop ones dropped', async () => {
    workload.rawReplies.set('/fields', Buffer.from('HTTP/1.1 200 OK\r\nX-Empty:\r\nX-B: 1\r\nX-Case: MiXeD /Path?Q=A\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\nConnection: x-hop\r\nX-Hop: gone\r\nContent-Length: 2\r\n\r\nok'))
    const r = await request(pair.appPort, '/fields')
    assert.equal(r.status, 200)
    assert.equal(r.body.toString(), 'ok')
    assert.equal(r.headers['x-empty'], '')
    assert.equal(r.headers['x-b'], '1')
    assert.equal(r.headers['x-case'], 'MiXeD /Path?Q=A', 'a value keeps its case (only names are folded)')
    assert.deepEqual(r.headers['set-cookie'], ['a=1', 'b=2'])
    assert.equal(r.headers['x-hop'], undefined)
  })

  it('answers workload failures with their codes, and the next request is served', async () => {
    workload.rawReplies.set('/garbage', Buffer.from('HTTP/1.1 2x0 Nope\r\n\r\n'))
    const garbage = await request(pair.appPort, '/garbage')
    assert.equal(garbage.status, 502)
    assert.equal(garbage.headers['meshgate-error'], 'E_UPSTREAM_RESET')
    const hangup = await request(pair.appPort, '/hangup')
    assert.equal(hangup.status, 502)
    assert.equal(hangup.headers['meshgate-error'], 'E_UPSTREAM_RESET')
    const slow = await request(pair.appPort, '/slow')
    assert.equal(slow.status, 504)
    assert.equal(slow.headers['meshgate-error'], 'E_REQUEST_TIMEOUT')
    const cut = await request(pair.appPort, '/cut')
    assert.equal(cut.status, 200)
    assert.ok(cut.error !== undefined || cut.body.length < 100_000, 'a cut response must not look whole')
    const ok = await request(pair.appPort, '/ok')
    assert.equal(ok.status, 200)
    assert.equal(ok.body.toString(), 'hello /ok\n')
  })

  it('survives a seeded run of mutated workload responses', async () => {
    const seed = fuzzSeed(0x5eed0005)
    const gen = new SeededGen(prng(seed))
    const templates = [
      'HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello',
      'HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nx-t: 1\r\n\r\n',
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok',
      'HTTP/1.0 200 OK\r\n\r\nuntil the close',
      'HTTP/1.1 204 No Content\r\nx-a: b\r\n\r\n',
    ]
    for (let i = 0; i < 60; i++) {
      const bytes = Buffer.from(gen.pick(templates), 'latin1')
      for (let m = gen.int(4); m > 0; m--) {
        const at = gen.int(bytes.length)
        const kind = gen.int(3)
        if (kind === 0) bytes[at] = gen.int(256)
        else if (kind === 1) bytes[at] = gen.pick([0x0d, 0x0a, 0x3a, 0x20, 0x30])
        else bytes.fill(0x41, at, Math.min(bytes.length, at + gen.range(1, 8)))
      }
      const path = `/fuzz/${i}`
      workload.rawReplies.set(path, gen.chance(0.2) ? bytes.subarray(0, gen.int(bytes.length)) : bytes)
      const r = await request(pair.appPort, path)
      assert.ok(r.status === 0 || (r.status >= 100 && r.status < 600), `seed ${seed} case ${i}: status ${r.status}`)
      if (i % 10 === 9) assert.equal((await request(pair.appPort, '/plain')).status, 200, `seed ${seed} after case ${i}`)
    }
    assert.equal((await request(pair.appPort, '/plain')).status, 200)
  })

  it('takes the JS path while a rate limit is on (grants withdrawn), and the native one after', async () => {
    const nativeBefore = await inboundPath(pair, 'native')
    const jsBefore = await inboundPath(pair, 'js')
    pair.server.inbound?.setRateLimit({ total: { perSecond: 1000, burst: 1000 }, identities: {} })
    for (let i = 0; i < 3; i++) assert.equal((await request(pair.appPort, `/limited${i}`)).status, 200)
    assert.equal(await inboundPath(pair, 'native'), nativeBefore)
    assert.equal(await inboundPath(pair, 'js'), jsBefore + 3)
    // Without it, the session's targets are granted again at once: its next requests are native.
    pair.server.inbound?.setRateLimit(undefined)
    for (let i = 0; i < 2; i++) assert.equal((await request(pair.appPort, `/unlimited${i}`)).status, 200)
    assert.equal(await inboundPath(pair, 'native'), nativeBefore + 2)
    assert.equal(await inboundPath(pair, 'js'), jsBefore + 3)
  })

  it('answers E_UPSTREAM_UNREACHABLE natively once the workload is gone', async () => {
    await workload.close()
    const r = await request(pair.appPort, '/gone')
    assert.equal(r.status, 502)
    assert.equal(r.headers['meshgate-error'], 'E_UPSTREAM_UNREACHABLE')
  })
})

// The request head waits for the body that came with it in the same read of the peer session, so
// the workload gets a small POST in one write instead of head, then body. The workload is a
// process of its own (it reads as soon as bytes arrive, not after this process's engine callback
// is done) that prints, per request, how many reads it took.
const COUNTING_WORKLOAD = `
const net = require('node:net')
const server = net.createServer((socket) => {
  let pending = Buffer.alloc(0)
  let chunks = 0
  socket.on('data', (c) => {
    pending = Buffer.concat([pending, c])
    chunks++
    const end = pending.indexOf('\\r\\n\\r\\n')
    if (end < 0) return
    const length = Number(/content-length: (\\d+)/i.exec(pending.subarray(0, end).toString('latin1'))?.[1] ?? 0)
    if (pending.length < end + 4 + length) return
    process.stdout.write('reads ' + chunks + '\\n')
    pending = pending.subarray(end + 4 + length)
    chunks = 0
    socket.write('HTTP/1.1 200 OK\\r\\ncontent-length: 2\\r\\n\\r\\nok')
  })
  socket.on('error', () => {})
})
server.listen(0, '127.0.0.1', () => process.stdout.write('port ' + server.address().port + '\\n'))
setTimeout(() => process.exit(0), 50000).unref()
process.stdin.on('end', () => process.exit(0)).resume()
`

describe('native inbound delivery: a small request body goes out with its head', { skip, timeout: 60_000 }, () => {
  it('each 1 KiB POST reaches the workload in one write', async () => {
    const child = spawn(process.execPath, ['-e', COUNTING_WORKLOAD], { stdio: ['pipe', 'pipe', 'inherit'] })
    const lines: string[] = []
    let text = ''
    child.stdout.on('data', (c: Buffer) => {
      text += c.toString()
      const parts = text.split('\n')
      text = parts.pop() ?? ''
      lines.push(...parts)
    })
    try {
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the workload process did not start')), 10_000)
        const poll = setInterval(() => {
          const line = lines.find((l) => l.startsWith('port '))
          if (line === undefined) return
          clearInterval(poll)
          clearTimeout(timer)
          resolve(Number(line.slice(5)))
        }, 10)
      })
      const pair = await startPair({ transport: 'h2', dataPlane: 'native', inboundH3: false, webTarget: `127.0.0.1:${port}` })
      try {
        assert.equal((await request(pair.appPort, '/warm')).status, 200)
        const body = Buffer.alloc(1024, 0x61)
        for (let i = 0; i < 20; i++) {
          const r = await request(pair.appPort, `/post${i}`, { method: 'POST', body })
          assert.equal(r.status, 200)
          assert.equal(r.body.toString(), 'ok')
        }
        assert.equal(await inboundPath(pair, 'js'), 0, 'every request was delivered natively')
        const reads = lines.filter((l) => l.startsWith('reads ')).slice(1).map((l) => Number(l.slice(6)))
        assert.deepEqual(reads, new Array<number>(20).fill(1))
      } finally {
        await pair.close()
      }
    } finally {
      child.stdin.end()
      child.kill()
    }
  })
})
