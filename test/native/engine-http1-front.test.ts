// The native HTTP/1 front (native/engine/src/app-http1.*, docs/native-http.md stage 2) through a
// real pair on the native data plane: which requests the engine carries and which it hands back
// to node:http (meshgate_http_data_path_total), keep-alive and pipelining on raw sockets, HEAD
// and HTTP/1.0 framing, the request timeout, a client leaving mid-response, and bad heads
// answered natively. Named engine-* so native/sanitize.sh runs it under ASan/UBSan.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import net from 'node:net'
import { startPair, type Pair } from '../helpers/pair.js'
import { fuzzSeed, prng, SeededGen } from '../helpers/seeded-random.js'
import { h2NativeAvailability } from '../../transports/h2-native/index.js'

const native = h2NativeAvailability()
const skip = native.available ? false : `the native engine does not load: ${native.available ? '' : native.reason.split('\n')[0] ?? ''}`

/** The value of meshgate_http_data_path_total{path, reason} on the outbound proxy (0 when absent). */
async function dataPath (pair: Pair, path: string, reason: string): Promise<number> {
  const text = await pair.client.metrics.registry.metrics()
  const line = text.split('\n').find((l) => l.startsWith(`meshgate_http_data_path_total{path="${path}",reason="${reason}"}`))
  return line === undefined ? 0 : Number(line.split(' ').pop())
}

/** Writes `bytes` on a fresh connection and collects what comes back until the server closes or `ms` pass. */
async function exchangeRaw (port: number, bytes: string | Buffer, ms = 5000, endAfterWrite = false): Promise<string> {
  return await new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1')
    const chunks: Buffer[] = []
    const timer = setTimeout(() => { socket.destroy(); resolve(Buffer.concat(chunks).toString('latin1')) }, ms)
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('error', (err) => { clearTimeout(timer); reject(err) })
    socket.on('close', () => { clearTimeout(timer); resolve(Buffer.concat(chunks).toString('latin1')) })
    socket.write(bytes)
    if (endAfterWrite) socket.end()
  })
}

function get (port: number, path: string, headers: http.OutgoingHttpHeaders = {}, method = 'GET', body?: string): Promise<{ status: number, headers: http.IncomingHttpHeaders, body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, agent: false, headers: { host: 'web.test', ...headers } }, (res) => {
      let text = ''
      res.setEncoding('latin1')
      res.on('data', (c: string) => { text += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }))
    })
    req.on('error', reject)
    req.setTimeout(20_000, () => req.destroy(new Error('test request timed out')))
    req.end(body)
  })
}

describe('the native HTTP/1 front', { skip, timeout: 120_000 }, () => {
  let pair: Pair
  before(async () => {
    pair = await startPair({ transport: 'h2', dataPlane: 'native', outboundExtra: 'timeouts: { requestMs: 800 }' })
  })
  after(async () => { await pair?.close() })

  it('says on /config which listener\'s HTTP/1 the engine serves', async () => {
    const admin = pair.client.adminAddress
    assert.ok(admin !== undefined)
    const config = await (await fetch(`http://127.0.0.1:${admin.port}/config`)).json() as { http1DataPath?: Record<string, string> }
    assert.equal(config.http1DataPath?.app, 'native')
    assert.equal(pair.client.outbound?.listeners.find((l) => l.config.name === 'app')?.http1DataPath, 'native')
  })

  it('carries plain requests natively, with their bodies, and counts them', async () => {
    const before = await dataPath(pair, 'native', 'plain')
    const plain = await get(pair.appPort, '/n?x=1')
    assert.equal(plain.status, 200)
    assert.equal((JSON.parse(plain.body) as { path: string }).path, '/n?x=1')
    const body = 'z'.repeat(200_000)
    const echo = await get(pair.appPort, '/echo', { 'content-type': 'text/plain' }, 'POST', body)
    assert.equal(echo.status, 200)
    assert.equal(echo.body, body)
    assert.equal(await dataPath(pair, 'native', 'plain'), before + 2)
  })

  it('answers keep-alive and pipelined requests in order on one connection', async () => {
    const two = 'GET /p1 HTTP/1.1\r\nHost: web.test\r\n\r\nGET /p2 HTTP/1.1\r\nHost: web.test\r\nConnection: close\r\n\r\n'
    const out = await exchangeRaw(pair.appPort, two)
    const first = out.indexOf('"path":"/p1"')
    const second = out.indexOf('"path":"/p2"')
    assert.ok(first > 0 && second > first, `both answers, in order: ${out.slice(0, 400)}`)
    assert.equal(out.match(/HTTP\/1\.1 200 OK/g)?.length, 2)
    assert.match(out, /connection: close/i)
  })

  it('frames HEAD and HTTP/1.0 answers as HTTP/1 requires', async () => {
    const head = await exchangeRaw(pair.appPort, 'HEAD /h HTTP/1.1\r\nHost: web.test\r\nConnection: close\r\n\r\n')
    assert.match(head, /^HTTP\/1\.1 200 OK\r\n/)
    assert.equal(head.split('\r\n\r\n')[1], '', 'no body after a HEAD answer')
    const old = await exchangeRaw(pair.appPort, 'GET /old HTTP/1.0\r\nHost: web.test\r\n\r\n')
    assert.match(old, /^HTTP\/1\.1 200 OK\r\n/)
    assert.doesNotMatch(old, /transfer-encoding: chunked/i, 'no chunked framing for an HTTP/1.0 client')
    assert.match(old, /"path":"\/old"/)
  })

  it('answers E_REQUEST_TIMEOUT when no response head comes within the request timeout', async () => {
    const slow = await get(pair.appPort, '/delay/3000')
    assert.equal(slow.status, 504)
    assert.equal(slow.headers['meshgate-error'], 'E_REQUEST_TIMEOUT')
    assert.equal((await get(pair.appPort, '/after-timeout')).status, 200)
  })

  it('answers a malformed head and an oversized one natively, and keeps serving others', async () => {
    const bad = await exchangeRaw(pair.appPort, 'GET /x HTTP/1.1\r\nHost: web.test\r\nBad Header: 1\r\n\r\n')
    assert.match(bad, /^HTTP\/1\.1 400 Bad Request\r\n/)
    assert.match(bad, /meshgate-error: E_BAD_REQUEST/)
    const big = await exchangeRaw(pair.appPort, `GET /x HTTP/1.1\r\nHost: web.test\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`)
    assert.match(big, /^HTTP\/1\.1 431 /)
    assert.match(big, /meshgate-error: E_HEADERS_TOO_LARGE/)
    assert.equal((await get(pair.appPort, '/still')).status, 200)
  })

  it('survives a client that leaves mid-response', async () => {
    const socket = net.connect(pair.appPort, '127.0.0.1')
    await new Promise<void>((resolve) => socket.once('connect', resolve))
    socket.write('POST /echo HTTP/1.1\r\nHost: web.test\r\nContent-Length: 1000000\r\n\r\n' + 'q'.repeat(300_000))
    await new Promise<void>((resolve) => socket.once('data', () => resolve()))
    socket.destroy()
    assert.equal((await get(pair.appPort, '/after-leave')).status, 200)
  })

  it('carries 100-continue requests natively: the 100 once forwarded, none for HTTP/1.0 or an error answer', async () => {
    const plainBefore = await dataPath(pair, 'native', 'plain')
    // (Raw bytes, not curl: the sanitizer job preloads its runtimes into every child process.)
    // The body is sent with the head: the 100 comes all the same, before the answer, as node:http does.
    const expect = await exchangeRaw(pair.appPort, 'POST /echo HTTP/1.1\r\nHost: web.test\r\nExpect: 100-continue\r\n' +
      'Content-Length: 5\r\nConnection: close\r\n\r\nhello')
    assert.match(expect, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 OK\r\n/)
    assert.match(expect, /\r\n\r\n5\r\nhello\r\n0\r\n\r\n$/, `the body echoed: ${expect}`)
    // An HTTP/1.0 client gets no 100 (RFC 9110 §15.2), only the answer.
    const old = await exchangeRaw(pair.appPort, 'POST /echo HTTP/1.0\r\nHost: web.test\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nold')
    assert.match(old, /^HTTP\/1\.1 200 OK\r\n/)
    assert.doesNotMatch(old, /100 Continue/)
    assert.match(old, /\r\n\r\nold$/)
    // Refused before it is forwarded (no service for the Host): the error, without a 100 first.
    const refused = await exchangeRaw(pair.appPort, 'POST /echo HTTP/1.1\r\nHost: nowhere.test\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n')
    assert.match(refused, /^HTTP\/1\.1 (4|5)\d\d /)
    assert.match(refused, /meshgate-error: E_NO_ROUTE/)
    assert.doesNotMatch(refused, /100 Continue/)
    assert.equal(await dataPath(pair, 'native', 'plain'), plainBefore + 2)
  })

  it('hands Upgrade requests back to node:http, which serves them', async () => {
    const upgradeBefore = await dataPath(pair, 'js', 'upgrade')
    const ws = await exchangeRaw(pair.appPort, 'GET /ws HTTP/1.1\r\nHost: web.test\r\nConnection: upgrade\r\nUpgrade: websocket\r\n' +
      'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n', 1500)
    assert.match(ws, /^HTTP\/1\.1 \d{3} /, 'the upgrade request is answered')
    assert.equal(await dataPath(pair, 'js', 'upgrade'), upgradeBefore + 1)
  })

  it('stays up under a bounded, seeded run of mutated requests on real sockets', async () => {
    const seed = fuzzSeed(0x4d31)
    const gen = new SeededGen(prng(seed))
    const seeds = [
      'GET /f HTTP/1.1\r\nHost: web.test\r\n\r\n',
      'POST /echo HTTP/1.1\r\nHost: web.test\r\nContent-Length: 5\r\n\r\nhello',
      'POST /echo HTTP/1.1\r\nHost: web.test\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n',
      'GET /a HTTP/1.1\r\nHost: web.test\r\n\r\nGET /b HTTP/1.0\r\nHost: web.test\r\n\r\n',
    ]
    const mutate = (text: string): Buffer => {
      const bytes = Buffer.from(text, 'latin1')
      const out = [...bytes]
      for (let n = gen.range(1, 4); n > 0; n--) {
        const at = gen.int(out.length + 1)
        switch (gen.int(4)) {
          case 0: out.splice(at, 1); break
          case 1: out.splice(at, 0, gen.int(256)); break
          case 2: out[Math.min(at, out.length - 1)] = gen.pick([0x0d, 0x0a, 0x3a, 0x20, 0x00, 0x7f, 0x30]); break
          default: out.splice(at, 0, ...Buffer.from(gen.pick(['\r\n', 'Content-Length: 3\r\n', 'Transfer-Encoding: chunked\r\n', ' ', 'ffffffff\r\n']), 'latin1'))
        }
      }
      return Buffer.from(out)
    }
    for (let batch = 0; batch < 6; batch++) {
      // 20 connections a batch, each one mutated request, each given at most 400 ms.
      const sent = Array.from({ length: 20 }, () => mutate(gen.pick(seeds)))
      const answers = await Promise.all(sent.map(async (bytes) => await exchangeRaw(pair.appPort, bytes, 400, gen.chance(0.3))))
      answers.forEach((answer, i) => {
        // Bytes that do not start like HTTP/1 are opaque TCP by detection: the echo service sends them back.
        const tcp = answer === (sent[i] as Buffer).toString('latin1')
        if (answer !== '' && !tcp) assert.match(answer, /^HTTP\/1\.1 \d{3} /, `seed ${seed}: an answer that is not HTTP/1: ${JSON.stringify(answer.slice(0, 80))}`)
      })
      assert.equal((await get(pair.appPort, `/health-${batch}`)).status, 200, `seed ${seed}: a plain request after batch ${batch}`)
    }
  })
})
