/**
 * CONNECT over HTTP/3 as the mesh uses it (DESIGN.md): a plain CONNECT tunnel whose two
 * directions close independently (FIN ↔ END_STREAM), extended CONNECT with `:protocol`
 * (RFC 9220), GOAWAY on graceful close, and the idle timeout.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { makePki, type TestPki } from '../helpers/pki.js'
import { SKIP, startServer, connectTo, readAll } from './helpers.js'
import type { QuicServer, QuicSession, QuicStream } from '../../native/quic.js'

let pki: TestPki
let server: QuicServer
let session: QuicSession
const serverSessions: QuicSession[] = []

before(async () => {
  if (SKIP !== false) return
  pki = await makePki()
  server = await startServer(await pki.workload('server'), (stream, headers) => {
    if (headers?.[':method'] !== 'CONNECT') {
      stream.respond({ ':status': '405' }, { endStream: true })
      return
    }
    if (headers[':protocol'] === 'websocket') {
      stream.respond({ ':status': '200', 'x-protocol': String(headers[':protocol']), 'x-path': String(headers[':path']) })
      stream.pipe(stream)
      return
    }
    // Plain CONNECT: answer 200, read the client's bytes to their end (client half-closed),
    // then answer with their length and close our side.
    stream.respond({ ':status': '200' })
    readAll(stream).then((got) => stream.end(`got ${got.length} bytes: ${got.toString()}`), () => {})
  })
  server.on('session', (s: QuicSession) => serverSessions.push(s))
  session = await connectTo(server, await pki.workload('client'))
})

after(async () => {
  if (SKIP !== false) return
  await session.close()
  await server.close()
})

test('a CONNECT tunnel carries bytes both ways and keeps half-close', { skip: SKIP }, async () => {
  const tunnel = session.request({ ':method': 'CONNECT', ':authority': '10.0.0.7:5432' })
  const [head] = await once(tunnel, 'response') as [Record<string, string>]
  assert.equal(head[':status'], '200')
  tunnel.write('hello ')
  tunnel.end('world')
  // Our side is closed; the server still answers on its side after seeing our FIN.
  const answer = await readAll(tunnel)
  assert.equal(answer.toString(), 'got 11 bytes: hello world')
})

test('extended CONNECT carries :protocol and :path (RFC 9220)', { skip: SKIP }, async () => {
  const ws: QuicStream = session.request({
    ':method': 'CONNECT', ':protocol': 'websocket', ':scheme': 'https', ':authority': 'chat.test', ':path': '/socket',
  })
  const [head] = await once(ws, 'response') as [Record<string, string>]
  assert.equal(head[':status'], '200')
  assert.equal(head['x-protocol'], 'websocket')
  assert.equal(head['x-path'], '/socket')
  ws.end('frame')
  assert.equal((await readAll(ws)).toString(), 'frame')
})

test('graceful close sends GOAWAY and lets the open stream finish', { skip: SKIP }, async () => {
  const other = await connectTo(server, await pki.workload('client'))
  const tunnel = other.request({ ':method': 'CONNECT', ':authority': '10.0.0.8:80' })
  await once(tunnel, 'response')
  // The client resolved after HANDSHAKE_DONE, so the server's side of it is the latest session.
  const serverSession = serverSessions.at(-1) as QuicSession
  const goaway = once(other, 'goaway')
  const closing = serverSession.close()
  await goaway
  assert.equal(other.goingAway, true)
  assert.throws(() => other.request({ ':method': 'GET', ':scheme': 'https', ':authority': 'x', ':path': '/' }), /closing/)
  tunnel.end('late bytes')
  assert.equal((await readAll(tunnel)).toString(), 'got 10 bytes: late bytes')
  await closing
  await once(other, 'close')
  assert.equal(other.closeError, undefined)
})

test('graceful close: the shutdown notice first, the final GOAWAY a round trip later (RFC 9114 §5.2)', { skip: SKIP }, async () => {
  const other = await connectTo(server, await pki.workload('client'))
  const codes: Array<{ id: number, at: number }> = []
  other.on('goaway', (id: number) => codes.push({ id: Number(id), at: performance.now() }))
  const tunnel = other.request({ ':method': 'CONNECT', ':authority': '10.0.0.8:80' })
  await once(tunnel, 'response')
  const serverSession = serverSessions.at(-1) as QuicSession
  const closing = serverSession.close()
  tunnel.end('x')
  await readAll(tunnel)
  await closing
  await once(other, 'close')
  assert.equal(codes.length, 2, `GOAWAY ids seen: ${codes.map(c => c.id).join(', ')}`)
  const [notice, final] = codes as [{ id: number, at: number }, { id: number, at: number }]
  // The notice carries the largest client-initiated bidirectional stream ID, 2^62 - 4.
  assert.ok(notice.id >= 2 ** 62 - 4 - 1024, `notice id ${notice.id}`)
  // The final one: the next request ID the server would not process (our CONNECT was id 0).
  assert.ok(final.id < 1000 && final.id % 4 === 0, `final id ${final.id}`)
  // Not in the same packet: at least the binding's 1 ms floor (loopback RTTs are far shorter).
  assert.ok(final.at - notice.at >= 0.5, `${final.at - notice.at} ms between them`)
})

test('an idle session closes after idleTimeoutMs', { skip: SKIP }, async () => {
  const idle = await connectTo(server, await pki.workload('client'), { idleTimeoutMs: 300 })
  const t0 = Date.now()
  await once(idle, 'close')
  const waited = Date.now() - t0
  assert.ok(waited >= 250 && waited < 3000, `closed after ${waited} ms`)
})

test('keep-alive PINGs hold an idle session open', { skip: SKIP }, async () => {
  const kept = await connectTo(server, await pki.workload('client'), { idleTimeoutMs: 600, keepAliveMs: 150 })
  await new Promise(resolve => setTimeout(resolve, 2000))
  assert.equal(kept.closed, false)
  await kept.close()
})
