// h2c (HTTP/2 with prior knowledge) through the meshgate pair over each peer transport: many concurrent streams, trailers, nghttp.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import http2 from 'node:http2'
import { startPair, type Pair } from '../helpers/pair.js'
import { run } from '../helpers/exec.js'
import { pairTransports, sessionTransports } from '../helpers/transports.js'

interface H2Reply { status: number, headers: http2.IncomingHttpHeaders, trailers: http2.IncomingHttpHeaders | undefined, body: string }

function h2request (session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: string): Promise<H2Reply> {
  return new Promise((resolve, reject) => {
    const stream = session.request(headers, { endStream: body === undefined })
    let status = 0
    let responseHeaders: http2.IncomingHttpHeaders = {}
    let trailers: http2.IncomingHttpHeaders | undefined
    let data = ''
    stream.setEncoding('utf8')
    stream.on('response', (h) => { responseHeaders = h; status = Number(h[':status']) })
    stream.on('trailers', (t) => { trailers = t })
    stream.on('data', (c: string) => { data += c })
    stream.on('end', () => resolve({ status, headers: responseHeaders, trailers, body: data }))
    stream.on('error', reject)
    stream.setTimeout(30_000, () => stream.close(http2.constants.NGHTTP2_CANCEL))
    if (body !== undefined) stream.end(body)
  })
}

for (const transport of pairTransports()) {
  describe(`h2c through the pair over ${transport.label}`, { skip: transport.skip, timeout: 60_000 }, () => {
    let pair: Pair
    let session: http2.ClientHttp2Session
    before(async () => {
      pair = await startPair({ transport: transport.name, dataPlane: transport.dataPlane })
      session = http2.connect(`http://127.0.0.1:${pair.appPort}`)
    })
    after(async () => {
      session?.close()
      await pair?.close()
    })

    it('routes by :authority and the workload sees an HTTP/2 request from the verified caller', async () => {
      const reply = await h2request(session, { ':path': '/h2', ':authority': 'web.test' })
      assert.equal(reply.status, 200)
      const body = JSON.parse(reply.body) as { protocol: string, caller: string, path: string }
      assert.equal(body.protocol, 'HTTP/2.0', 'h2c stays HTTP/2 all the way to the workload')
      assert.equal(body.caller, pair.pki.id('client'))
      assert.equal(body.path, '/h2')
      assert.deepEqual(sessionTransports(pair), [transport.name])
      // Native h2 serves the app's h2c in the engine (docs/native-http.md stage 4); with h3 in the
      // config, or on the JS plane, node:http2 does, and the engine counts nothing.
      const counted = /meshgate_http_data_path_total\{path="native",reason="plain"\} (\d+)/.exec(await pair.client.metrics.registry.metrics())
      const engineServesH2c = transport.name === 'h2' && transport.dataPlane === 'native'
      assert.equal(Number(counted?.[1] ?? 0) > 0, engineServesH2c, 'which front carried the stream')
    })

    it('carries 200 concurrent streams on one app connection', async () => {
      const replies = await Promise.all(Array.from({ length: 200 }, async (_, i) =>
        await h2request(session, { ':method': 'POST', ':path': `/echo/${i}`, ':authority': 'web.test' }, `payload-${i}`)))
      replies.forEach((reply, i) => {
        assert.equal(reply.status, 200)
        assert.equal(reply.body, `payload-${i}`)
      })
      assert.deepEqual(sessionTransports(pair), [transport.name])
    })

    it('keeps response trailers end to end', async () => {
      const reply = await h2request(session, { ':path': '/t', ':authority': 'web.test', 'trailer-echo': 'grpc-status=0' })
      assert.equal(reply.status, 200)
      assert.equal(reply.trailers?.['x-echo'], 'grpc-status=0')
      const posted = await h2request(session, { ':method': 'POST', ':path': '/t', ':authority': 'web.test', 'trailer-echo': 'after-body' }, 'x'.repeat(100_000))
      assert.equal(posted.body.length, 100_000)
      assert.equal(posted.trailers?.['x-echo'], 'after-body')
    })

    it('answers nghttp, a real HTTP/2 client', async () => {
      const out = await run('nghttp', ['-n', '-s', '-H', ':authority: web.test', '-m', '20', `http://127.0.0.1:${pair.appPort}/nghttp`])
      assert.equal(out.code, 0, out.stderr)
      // nghttp's statistics list one line per completed request: `id responseEnd requestStart process code size path`.
      const ok = out.stdout.split('\n').filter((l) => /\s200\s+\d+\s+\/nghttp$/.test(l.trim()))
      assert.equal(ok.length, 20, `nghttp should list 20 requests answered 200:\n${out.stdout}`)
    })
  })
}
