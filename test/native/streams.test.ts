/**
 * HTTP/3 streams through the addon: a 10 MB body echoed with its sha256 checked, many
 * concurrent streams (more than the server's stream limit, so some wait for credit), trailers
 * both ways, a reset seen by the other side, and backpressure from a slow reader.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { once } from 'node:events'
import { makePki, type TestPki } from '../helpers/pki.js'
import { SKIP, startServer, connectTo, get, readAll, type Handler } from './helpers.js'
import type { QuicServer, QuicSession, QuicStream } from '../../native/quic.js'

let pki: TestPki
let server: QuicServer
let session: QuicSession

const routes: Record<string, Handler> = {
  '/echo': (stream) => {
    stream.respond({ ':status': '200' })
    stream.pipe(stream)
  },
  '/trailers': (stream) => {
    // Echo the body, then answer the request's trailer with one of ours.
    stream.respond({ ':status': '200' })
    const chunks: Buffer[] = []
    stream.on('data', (c: Buffer) => chunks.push(c))
    stream.on('end', () => {
      const got = stream.receivedTrailers?.['x-checksum'] ?? 'none'
      stream.setTrailers({ 'x-echo-checksum': String(got), 'x-length': String(Buffer.concat(chunks).length) })
      stream.end(Buffer.concat(chunks))
    })
  },
  '/reset': (stream) => {
    stream.respond({ ':status': '200' })
    stream.write('partial')
    setTimeout(() => stream.reset(0x10c), 20)
  },
  '/big': (stream) => {
    const size = 8 * 1024 * 1024
    stream.respond({ ':status': '200', 'content-length': String(size) })
    const block = Buffer.alloc(64 * 1024, 7)
    let sent = 0
    const pump = (): void => {
      while (sent < size) {
        sent += block.length
        if (!stream.write(block)) {
          stream.once('drain', pump)
          return
        }
      }
      stream.end()
    }
    pump()
  },
}

before(async () => {
  if (SKIP !== false) return
  pki = await makePki()
  server = await startServer(await pki.workload('server'), (stream, headers, s) => {
    const handler = routes[String(headers?.[':path'])]
    if (handler === undefined) {
      stream.respond({ ':status': '404' }, { endStream: true })
      return
    }
    handler(stream, headers, s)
  }, { maxStreams: 50 })
  session = await connectTo(server, await pki.workload('client'))
})

after(async () => {
  if (SKIP !== false) return
  await session.close()
  await server.close()
})

function sha256 (data: Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}

async function sendBody (stream: QuicStream, body: Buffer, chunk = 64 * 1024): Promise<void> {
  for (let off = 0; off < body.length; off += chunk) {
    if (!stream.write(body.subarray(off, off + chunk))) await once(stream, 'drain')
  }
  stream.end()
}

test('a 10 MB body is echoed byte for byte (sha256)', { skip: SKIP }, async () => {
  const body = randomBytes(10 * 1024 * 1024)
  const stream = session.request(get('/echo', 'POST'))
  const [response] = await Promise.all([readAll(stream), sendBody(stream, body)])
  assert.equal(stream.headers?.[':status'], '200')
  assert.equal(response.length, body.length)
  assert.equal(sha256(response), sha256(body))
})

test('200 concurrent streams, four times the server\'s stream limit', { skip: SKIP }, async () => {
  const results = await Promise.all(Array.from({ length: 200 }, async (_, i) => {
    const body = Buffer.from(`stream ${i} `.repeat(100 + i))
    const stream = session.request(get('/echo', 'POST'))
    const [echoed] = await Promise.all([readAll(stream), sendBody(stream, body)])
    return echoed.equals(body)
  }))
  assert.equal(results.filter(Boolean).length, 200)
})

test('trailers travel both ways', { skip: SKIP }, async () => {
  const stream = session.request(get('/trailers', 'POST'))
  stream.setTrailers({ 'x-checksum': 'abc123' })
  stream.end(Buffer.from('payload'))
  const body = await readAll(stream)
  assert.equal(body.toString(), 'payload')
  assert.deepEqual(stream.receivedTrailers, { 'x-echo-checksum': 'abc123', 'x-length': '7' })
})

test('a 404 with no body ends the stream', { skip: SKIP }, async () => {
  const stream = session.request(get('/missing'), { endStream: true })
  const body = await readAll(stream)
  assert.equal(stream.headers?.[':status'], '404')
  assert.equal(body.length, 0)
})

test('a reset by the server errors the client stream with the code', { skip: SKIP }, async () => {
  const stream = session.request(get('/reset'), { endStream: true })
  const err = await readAll(stream).then(() => undefined, (e: Error & { code?: number }) => e)
  assert.ok(err !== undefined, 'stream should fail')
  assert.equal(err.code, 0x10c)
})

test('a slow reader holds the sender back (flow control), then gets every byte', { skip: SKIP }, async () => {
  const stream = session.request(get('/big'), { endStream: true })
  await once(stream, 'response')
  // Read nothing for a while: the server can only have sent about one stream window.
  await new Promise(resolve => setTimeout(resolve, 300))
  const buffered = stream.readableLength
  assert.ok(buffered < 8 * 1024 * 1024, `reader buffered ${buffered} bytes`)
  const body = await readAll(stream)
  assert.equal(body.length + 0, 8 * 1024 * 1024)
  assert.ok(body.every(b => b === 7))
})

test('aborting a request resets it; the session stays available', { skip: SKIP }, async () => {
  const controller = new AbortController()
  const stream = session.request(get('/echo', 'POST'), { signal: controller.signal })
  stream.write('some')
  await once(stream, 'response')
  const failed = once(stream, 'error')
  controller.abort(new Error('caller gave up'))
  const [err] = await failed as [Error]
  assert.match(err.message, /caller gave up/)
  assert.equal(session.available, true)
  const ok = session.request(get('/missing'), { endStream: true })
  await readAll(ok)
  assert.equal(ok.headers?.[':status'], '404')
})
