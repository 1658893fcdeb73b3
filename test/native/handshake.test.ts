/**
 * Mutual TLS over QUIC: both sides see the other's URI SAN; certificates from another CA,
 * expired ones, a missing client certificate and a wrong expected identity are all refused.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { makePki, type TestPki } from '../helpers/pki.js'
import { SKIP, startServer, connectTo, get, readAll } from './helpers.js'
import { connect, type QuicServer, type QuicSession } from '../../native/quic.js'
import type { TlsMaterial } from '../../transports/contract.js'

let pki: TestPki
let serverTls: TlsMaterial
let server: QuicServer
let serverSessions: QuicSession[] = []
const handshakeErrors: Error[] = []

before(async () => {
  if (SKIP !== false) return
  pki = await makePki()
  serverTls = await pki.workload('server')
  server = await startServer(serverTls, (stream, _h, session) => {
    stream.respond({ ':status': '200' })
    stream.end(session.peerIdentity)
  }, { onSession: undefined })
  server.on('session', (s: QuicSession) => serverSessions.push(s))
  server.on('handshakeError', (err: Error) => handshakeErrors.push(err))
})

after(async () => {
  if (SKIP !== false) return
  await server.close()
  serverSessions = []
})

test('handshake with mutual TLS shows each side the other\'s URI SAN', { skip: SKIP }, async () => {
  const session = await connectTo(server, await pki.workload('client'))
  assert.equal(session.peerIdentity, pki.id('server'))
  assert.equal(session.alpn, 'h3')
  const stream = session.request(get('/whoami'), { endStream: true })
  const body = await readAll(stream)
  assert.equal(body.toString(), pki.id('client'))
  assert.equal(serverSessions.at(-1)?.peerIdentity, pki.id('client'))
  const stats = session.stats()
  assert.ok(stats !== undefined && stats.smoothedRttMs > 0 && stats.cwnd > 0 && stats.bytesSent > 0)
  await session.close()
  assert.equal(session.closed, true)
  assert.equal(session.closeError, undefined)
})

test('expectedIdentity that matches the server passes, another one is refused', { skip: SKIP }, async () => {
  const client = await pki.workload('client')
  const ok = await connectTo(server, client, { expectedIdentity: pki.id('server') })
  await ok.close()
  await assert.rejects(connectTo(server, client, { expectedIdentity: pki.id('someone-else') }), /is not the expected/)
})

test('a client certificate from another CA is refused by the server', { skip: SKIP }, async () => {
  const foreign = await makePki()
  const before = handshakeErrors.length
  const bad = await foreign.workload('client')
  // The client trusts the real CA, so only the server's check can fail.
  await assert.rejects(connectTo(server, { ...bad, ca: serverTls.ca }), /handshake .* failed/)
  await waitFor(() => handshakeErrors.length > before)
  assert.match(handshakeErrors.at(-1)?.message ?? '', /certificate refused.*(signer|issuer|not trusted)/i)
})

test('an expired client certificate is refused by the server', { skip: SKIP }, async () => {
  const before = handshakeErrors.length
  await assert.rejects(connectTo(server, await pki.workload('client', { expired: true })), /handshake .* failed/)
  await waitFor(() => handshakeErrors.length > before)
  assert.match(handshakeErrors.at(-1)?.message ?? '', /expired/i)
})

test('a client without certificate is refused by the server', { skip: SKIP }, async () => {
  await assert.rejects(connectTo(server, { ca: serverTls.ca, cert: '', key: '' }), /handshake .* failed/)
})

test('the client refuses a server certificate from another CA', { skip: SKIP }, async () => {
  const foreign = await makePki()
  const client = await pki.workload('client')
  await assert.rejects(connectTo(server, { ...client, ca: foreign.ca.cert }), /peer certificate refused/)
})

async function waitFor (cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting')
    await new Promise(resolve => setTimeout(resolve, 10))
  }
}

test('connect to a silent port: the abort signal and the handshake timeout both end the attempt', { skip: SKIP }, async () => {
  const client = await pki.workload('client')
  const { createSocket } = await import('node:dgram')
  const silent = createSocket('udp4')
  await new Promise<void>(resolve => silent.bind(0, '127.0.0.1', resolve))
  const port = silent.address().port
  try {
    const t0 = Date.now()
    await assert.rejects(connect({ ...client, host: '127.0.0.1', port, signal: AbortSignal.timeout(150) }), /abort|timeout/i)
    assert.ok(Date.now() - t0 < 2000)
    await assert.rejects(connect({ ...client, host: '127.0.0.1', port, handshakeTimeoutMs: 300 }), /handshake timeout/)
  } finally {
    silent.close()
  }
})

test('the client refuses an expired server certificate', { skip: SKIP }, async () => {
  const expired = await startServer(await pki.workload('server', { expired: true }), (stream) => {
    stream.respond({ ':status': '200' }, { endStream: true })
  })
  try {
    await assert.rejects(connectTo(expired, await pki.workload('client')), /peer certificate refused.*expired/i)
  } finally {
    await expired.close()
  }
})

test('fifty sessions at once, each with a request', { skip: SKIP }, async () => {
  const client = await pki.workload('client')
  const sessions = await Promise.all(Array.from({ length: 50 }, async () => await connectTo(server, client)))
  const bodies = await Promise.all(sessions.map(async s => (await readAll(s.request(get('/'), { endStream: true }))).toString()))
  assert.deepEqual(new Set(bodies), new Set([pki.id('client')]))
  await Promise.all(sessions.map(async s => await s.close()))
})
