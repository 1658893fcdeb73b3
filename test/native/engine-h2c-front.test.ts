// The native h2c front (native/engine/src/app-h2c.*, docs/native-http.md stage 4) through a real
// pair on the native data plane: h2c streams served by the engine's nghttp2 server session and
// counted in meshgate_http_data_path_total, bodies both ways, trailers, HEAD, error answers on
// the stream, the request timeout, expect: 100-continue, a client reset mid-response, an
// oversized head, a stream the engine cannot carry (a CONNECT: refused, the connection told to go
// away, the next ones on node:http2),
// and a config with retry routes, whose h2c stays on node:http2. Named engine-* so
// native/sanitize.sh runs it under ASan/UBSan.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import http2 from 'node:http2'
import { h2cRequest as request } from '../helpers/h2c-request.js'
import { startPair, type Pair } from '../helpers/pair.js'
import { nativeSkip } from '../helpers/transports.js'

const skip = nativeSkip()

async function connect (port: number): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(`http://127.0.0.1:${port}`)
  session.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    session.once('connect', () => resolve())
    session.once('error', reject)
  })
  return session
}

async function metric (pair: Pair, line: string): Promise<number> {
  const text = await pair.client.metrics.registry.metrics()
  const found = text.split('\n').find((l) => l.startsWith(line + ' '))
  return found === undefined ? 0 : Number(found.split(' ').pop())
}

const NATIVE = 'meshgate_http_data_path_total{path="native",reason="plain"}'

describe('the native h2c front', { skip, timeout: 120_000 }, () => {
  let pair: Pair
  let session: http2.ClientHttp2Session
  before(async () => {
    pair = await startPair({ transport: 'h2', dataPlane: 'native', outboundExtra: 'timeouts: { requestMs: 800 }' })
    session = await connect(pair.appPort)
  })
  after(async () => {
    session?.destroy()
    await pair?.close()
  })

  it('carries streams natively: HTTP/2 to the workload from the verified caller, bodies both ways, trailers, HEAD', async () => {
    const before = await metric(pair, NATIVE)
    const get = await request(session, { ':path': '/h2c?q=1' })
    assert.equal(get.status, 200)
    const seen = JSON.parse(get.body.toString()) as { protocol: string, caller: string, path: string }
    assert.equal(seen.protocol, 'HTTP/2.0', 'h2c stays HTTP/2 to the workload')
    assert.equal(seen.caller, pair.pki.id('client'))
    assert.equal(seen.path, '/h2c?q=1')
    const body = Buffer.alloc(600_000)
    for (let i = 0; i < body.length; i++) body[i] = (i * 7) & 0xff
    const echo = await request(session, { ':method': 'POST', ':path': '/echo', 'trailer-echo': 'done' }, body)
    assert.equal(echo.status, 200)
    assert.ok(echo.body.equals(body), 'a 600 KB body comes back whole (windows and credits both ways)')
    assert.equal(echo.trailers?.['x-echo'], 'done', 'response trailers after a body')
    const head = await request(session, { ':method': 'HEAD', ':path': '/' })
    assert.equal(head.status, 200)
    assert.equal(head.body.length, 0)
    const many = await Promise.all(Array.from({ length: 100 }, async (_, i) => await request(session, { ':method': 'POST', ':path': `/e/${i}` }, `p-${i}`)))
    many.forEach((r, i) => assert.equal(r.body.toString(), `p-${i}`))
    assert.equal(await metric(pair, NATIVE), before + 103, 'every stream counted as native')
  })

  it('answers an error on its stream (meshgate-error, a text body) and the session goes on', async () => {
    const lost = await request(session, { ':path': '/', ':authority': 'nowhere.test' })
    assert.equal(lost.status, 404)
    assert.equal(lost.headers['meshgate-error'], 'E_NO_ROUTE')
    assert.match(lost.body.toString(), /^E_NO_ROUTE: no service for authority "nowhere.test"\n$/)
    const slow = await request(session, { ':path': '/delay/3000' })
    assert.equal(slow.status, 504)
    assert.equal(slow.headers['meshgate-error'], 'E_REQUEST_TIMEOUT')
    assert.equal((await request(session, { ':path': '/after' })).status, 200)
  })

  it('answers a head over the field limit 431 on that stream only', async () => {
    const fields: http2.OutgoingHttpHeaders = { ':path': '/big' }
    for (let i = 0; i < 300; i++) fields[`x-f-${i}`] = 'v'
    const big = await request(session, fields)
    assert.equal(big.status, 431)
    assert.equal(big.headers['meshgate-error'], 'E_HEADERS_TOO_LARGE')
    assert.equal((await request(session, { ':path': '/after-big' })).status, 200)
  })

  it('answers expect: 100-continue itself once the request is forwarded; the body follows', async () => {
    const before = await metric(pair, NATIVE)
    const reply = await new Promise<{ informational: number, status: number, body: string }>((resolve, reject) => {
      const stream = session.request({ ':authority': 'web.test', ':method': 'POST', ':path': '/echo', expect: '100-continue' }, { endStream: false })
      let informational = 0
      let status = 0
      let body = ''
      stream.on('continue', () => { informational++; stream.end('after-continue') })
      stream.on('response', (h) => { status = Number(h[':status']) })
      stream.setEncoding('utf8')
      stream.on('data', (c: string) => { body += c })
      stream.on('end', () => resolve({ informational, status, body }))
      stream.on('error', reject)
      stream.setTimeout(10_000, () => stream.close(http2.constants.NGHTTP2_CANCEL))
    })
    assert.deepEqual(reply, { informational: 1, status: 200, body: 'after-continue' })
    assert.equal(await metric(pair, NATIVE), before + 1)
  })

  it('a client reset mid-response costs only that stream, and counts as a reset', async () => {
    const resets = await metric(pair, 'meshgate_app_stream_resets_total')
    const stream = session.request({ ':authority': 'web.test', ':method': 'POST', ':path': '/echo' })
    stream.on('error', () => {})
    stream.write(Buffer.alloc(100_000, 1))
    await new Promise<void>((resolve) => stream.once('data', () => resolve()))
    stream.close(http2.constants.NGHTTP2_CANCEL)
    await new Promise<void>((resolve) => stream.once('close', () => resolve()))
    assert.equal((await request(session, { ':path': '/after-reset' })).status, 200)
    // The record comes once the engine saw the reset; give it a few turns (bounded).
    for (let i = 0; i < 50 && await metric(pair, 'meshgate_app_stream_resets_total') === resets; i++) await new Promise((resolve) => setTimeout(resolve, 20))
    assert.equal(await metric(pair, 'meshgate_app_stream_resets_total'), resets + 1)
  })

  // Last: after a refusal the listener's h2c goes to node:http2 for a minute.
  it('refuses a stream it cannot carry (CONNECT): REFUSED_STREAM and GOAWAY; the next connection is served by node:http2', async () => {
    const native = await metric(pair, NATIVE)
    const refused = await new Promise<number>((resolve) => {
      const stream = session.request({ ':authority': 'web.test:80', ':method': 'CONNECT' }, { endStream: false })
      stream.on('error', () => {})
      stream.on('close', () => resolve(stream.rstCode ?? -1))
      stream.setTimeout(10_000, () => stream.close(http2.constants.NGHTTP2_CANCEL))
    })
    assert.equal(refused, http2.constants.NGHTTP2_REFUSED_STREAM)
    for (let i = 0; i < 100 && !session.closed && !session.destroyed; i++) await new Promise((resolve) => setTimeout(resolve, 20))
    assert.ok(session.closed || session.destroyed, 'the connection was told to go away')
    assert.equal(await metric(pair, 'meshgate_http_data_path_total{path="js",reason="upgrade"}'), 1)
    const next = await connect(pair.appPort)
    try {
      const retried = await request(next, { ':method': 'POST', ':path': '/echo' }, 'again')
      assert.equal(retried.status, 200)
      assert.equal(retried.body.toString(), 'again')
      assert.equal(await metric(pair, NATIVE), native, 'served by node:http2, not the engine')
    } finally {
      next.destroy()
    }
  })
})

describe('the native h2c front with a retry route in the config', { skip, timeout: 60_000 }, () => {
  let pair: Pair
  before(async () => {
    pair = await startPair({ transport: 'h2', dataPlane: 'native', webExtra: 'routes: [{ name: r, retry: { on: [5xx], maxRetries: 1 } }]' })
  })
  after(async () => { await pair?.close() })

  it('leaves h2c to node:http2 (it cannot hand a stream back), and HTTP/1 stays native', async () => {
    const session = await connect(pair.appPort)
    try {
      assert.equal((await request(session, { ':path': '/js' })).status, 200)
    } finally {
      session.destroy()
    }
    assert.equal(await metric(pair, NATIVE), 0)
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port: pair.appPort, path: '/n', agent: false, headers: { host: 'web.test' } }, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      })
      req.on('error', reject)
      req.setTimeout(20_000, () => req.destroy(new Error('test request timed out')))
    })
    assert.equal(status, 200)
    assert.equal(await metric(pair, 'meshgate_http_data_path_total{path="js",reason="route_features"}'), 1, 'HTTP/1 is handed back per request')
  })
})
