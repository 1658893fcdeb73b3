// Native inbound delivery over h2c (native/engine/src/workload-h2c.*, docs/native-http.md stage 5)
// through a real pair on the native data plane, end to end from an h2c app client (the engine's
// h2c front) to an h2c workload of the test's own (node:http2, counting its sessions and keeping
// what it was sent): JS grants a session the `auto` target as it opens, and the engine delivers
// the session's h2c requests, its first one included, on one h2c session to the workload
// (meshgate_inbound_http_data_path_total). Bodies both ways, trailers, HEAD, the mesh headers,
// and workload failures answered with their codes. Named engine-* so native/sanitize.sh runs it.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import http2 from 'node:http2'
import type { AddressInfo } from 'node:net'
import { h2cRequest as request, type H2cReply as Reply } from '../helpers/h2c-request.js'
import { startPair, type Pair } from '../helpers/pair.js'
import { nativeSkip } from '../helpers/transports.js'

interface Seen { path: string, headers: http2.IncomingHttpHeaders, body: number }

/** The workload: answers by path (node:http2's stream API). */
class Workload {
  readonly server = http2.createServer()
  readonly seen: Seen[] = []
  readonly open = new Set<http2.ServerHttp2Session>()
  sessions = 0

  constructor () {
    this.server.on('session', (s) => {
      this.sessions++
      this.open.add(s)
      s.once('close', () => this.open.delete(s))
    })
    this.server.on('stream', (stream, headers) => {
      stream.on('error', () => {})
      const path = String(headers[':path'])
      if (path === '/early') {
        // Answers an upload at once, unread (a 413), and drops the rest of the stream.
        stream.respond({ ':status': 413 }, { endStream: true })
        stream.close(http2.constants.NGHTTP2_NO_ERROR)
        return
      }
      let body = 0
      const chunks: Buffer[] = []
      stream.on('data', (c: Buffer) => { body += c.length; chunks.push(c) })
      stream.on('end', () => {
        this.seen.push({ path, headers, body })
        if (path === '/slow') return // never answers
        if (path === '/reset') { stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR); return }
        if (path === '/cut') {
          stream.respond({ ':status': 200 })
          stream.write('x'.repeat(1000))
          setTimeout(() => stream.destroy(new Error('cut')), 50) // RST_STREAM INTERNAL_ERROR (close() would end the stream first)
          return
        }
        if (path === '/trailers') {
          stream.respond({ ':status': 200 }, { waitForTrailers: true })
          stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'x-sum': '42' }))
          stream.end('abc')
          return
        }
        if (headers[':method'] === 'POST') {
          stream.respond({ ':status': 200, 'content-type': 'application/octet-stream' })
          stream.end(Buffer.concat(chunks))
          return
        }
        stream.respond({ ':status': 200, 'content-type': 'text/plain', 'x-from': 'workload' }, { endStream: headers[':method'] === 'HEAD' })
        if (headers[':method'] !== 'HEAD') stream.end(`hello ${path}\n`)
      })
    })
  }

  async listen (): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve))
    return (this.server.address() as AddressInfo).port
  }

  /** Stops listening and drops every session (idempotent). */
  async close (): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()))
    for (const s of this.open) s.destroy()
    if (this.server.listening) await closed
  }
}

async function inboundPath (pair: Pair, path: 'native' | 'js'): Promise<number> {
  const text = await pair.server.metrics.registry.metrics()
  const line = text.split('\n').find((l) => l.startsWith(`meshgate_inbound_http_data_path_total{path="${path}"}`))
  return line === undefined ? 0 : Number(line.split(' ').pop())
}

describe('native inbound delivery over h2c', { skip: nativeSkip(), timeout: 120_000 }, () => {
  let pair: Pair
  let workload: Workload
  let session: http2.ClientHttp2Session
  before(async () => {
    workload = new Workload()
    const port = await workload.listen()
    pair = await startPair({ transport: 'h2', dataPlane: 'native', inboundH3: false, webTarget: `127.0.0.1:${port}`, inboundExtra: 'timeouts: { requestMs: 600 }' })
    session = http2.connect(`http://127.0.0.1:${pair.appPort}`)
    session.on('error', () => {})
    assert.equal((await request(session, { ':path': '/first' })).status, 200)
  })
  after(async () => {
    session?.destroy()
    await pair?.close()
    await workload?.close()
  })

  it('delivers later requests natively on one h2c session, with the mesh headers', async () => {
    const nativeBefore = await inboundPath(pair, 'native')
    const jsBefore = await inboundPath(pair, 'js')
    const seenBefore = workload.seen.length
    const replies = await Promise.all(Array.from({ length: 50 }, async (_, i) => await request(session, { ':path': `/n${i}?q=1`, 'x-custom': 'v', te: 'trailers' })))
    replies.forEach((r, i) => {
      assert.equal(r.status, 200)
      assert.equal(r.body.toString(), `hello /n${i}?q=1\n`)
      assert.equal(r.headers['x-from'], 'workload')
    })
    assert.equal(await inboundPath(pair, 'native'), nativeBefore + 50)
    assert.equal(await inboundPath(pair, 'js'), jsBefore)
    const seen = workload.seen.slice(seenBefore)
    assert.equal(seen.length, 50)
    for (const s of seen) {
      assert.equal(s.headers['meshgate-client-id'], pair.pki.id('client'))
      assert.equal(s.headers[':authority'], 'web.test')
      assert.equal(s.headers['x-custom'], 'v')
      assert.equal(s.headers.te, 'trailers')
      assert.equal(s.headers['meshgate-target'], undefined)
      assert.equal(s.headers['meshgate-orig-proto'], undefined)
    }
    // The first request was the engine's too: one session to the workload for all of them.
    assert.equal(workload.sessions, 1)
  })

  it('moves bodies both ways, passes response trailers on, and answers HEAD without a body', async () => {
    const body = Buffer.alloc(700_000)
    for (let i = 0; i < body.length; i++) body[i] = (i * 13) & 0xff
    const echo = await request(session, { ':method': 'POST', ':path': '/echo' }, body)
    assert.equal(echo.status, 200)
    assert.ok(echo.body.equals(body), 'a 700 KB body comes back whole')
    const trailers = await request(session, { ':path': '/trailers' })
    assert.equal(trailers.body.toString(), 'abc')
    assert.equal(trailers.trailers?.['grpc-status'], '0')
    assert.equal(trailers.trailers?.['x-sum'], '42')
    const head = await request(session, { ':method': 'HEAD', ':path': '/h' })
    assert.equal(head.status, 200)
    assert.equal(head.body.length, 0)
  })

  it('answers workload failures with their codes, and the next request is served', async () => {
    const reset = await request(session, { ':path': '/reset' })
    assert.equal(reset.status, 502)
    assert.equal(reset.headers['meshgate-error'], 'E_UPSTREAM_RESET')
    const slow = await request(session, { ':path': '/slow' })
    assert.equal(slow.status, 504)
    assert.equal(slow.headers['meshgate-error'], 'E_REQUEST_TIMEOUT')
    const cut = await request(session, { ':path': '/cut' })
    assert.equal(cut.status, 200)
    assert.ok(cut.error !== undefined, 'a body cut after the head ends in a stream error, never as a whole one')
    assert.equal((await request(session, { ':path': '/after' })).status, 200)
  })

  it('an early whole answer to an unread upload ends the exchange, which is recorded; the session goes on', async () => {
    const nativeBefore = await inboundPath(pair, 'native')
    const upload = Buffer.alloc(6 * 1024 * 1024, 7) // more than the peer stream's 4 MiB window
    const early = await request(session, { ':method': 'POST', ':path': '/early' }, upload)
    assert.equal(early.status, 413)
    // Its record comes once both streams are over (bounded wait).
    for (let i = 0; i < 100 && await inboundPath(pair, 'native') === nativeBefore; i++) await new Promise((resolve) => setTimeout(resolve, 20))
    assert.equal(await inboundPath(pair, 'native'), nativeBefore + 1, 'the delivery finished and was recorded')
    assert.equal((await request(session, { ':path': '/after-early' })).status, 200)
  })

  it('answers E_UPSTREAM_UNREACHABLE natively once the workload is gone', async () => {
    const nativeBefore = await inboundPath(pair, 'native')
    await workload.close()
    let gone: Reply | undefined
    // The engine's session ends once the workload's close arrives: bounded retries.
    for (let i = 0; i < 20; i++) {
      gone = await request(session, { ':path': '/gone' })
      if (gone.headers['meshgate-error'] === 'E_UPSTREAM_UNREACHABLE') break
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    assert.equal(gone?.status, 502)
    assert.equal(gone?.headers['meshgate-error'], 'E_UPSTREAM_UNREACHABLE')
    assert.ok(await inboundPath(pair, 'native') > nativeBefore)
  })
})
