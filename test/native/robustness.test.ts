/**
 * Things a data plane meets on the wire: garbage datagrams (random bytes, and random bytes
 * dressed as QUIC v1 Initials) sprayed at the server while a transfer runs, IPv6 loopback, and a
 * peer that crashed and came back (stateless reset).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { makePki } from '../helpers/pki.js'
import { SKIP, startServer, connectTo, get, readAll, echo } from './helpers.js'
import { connect } from '../../native/quic.js'

test('garbage datagrams do not disturb a running transfer', { skip: SKIP }, async () => {
  const pki = await makePki()
  const server = await startServer(await pki.workload('server'), echo)
  const session = await connectTo(server, await pki.workload('client'))
  const spray = createSocket('udp4')
  const { port } = server.address()
  const timer = setInterval(() => {
    for (let i = 0; i < 20; i++) {
      const b = randomBytes(1200)
      if (i % 2 === 0) {
        b[0] = 0xc0 // long header, Initial
        b.writeUInt32BE(1, 1) // QUIC v1
        b[5] = 8 // DCID length
      }
      spray.send(b, port, '127.0.0.1')
    }
  }, 5)
  try {
    const body = randomBytes(4 * 1024 * 1024)
    const stream = session.request(get('/echo', 'POST'))
    stream.end(body)
    const echoed = await readAll(stream)
    assert.equal(createHash('sha256').update(echoed).digest('hex'), createHash('sha256').update(body).digest('hex'))
  } finally {
    clearInterval(timer)
    spray.close()
    await session.close()
    await server.close()
  }
})

test('a session over IPv6 loopback', { skip: SKIP }, async (t) => {
  const pki = await makePki()
  let server
  try {
    server = await startServer(await pki.workload('server'), echo, { host: '::1' })
  } catch (err) {
    t.skip(`no IPv6 loopback here: ${(err as Error).message}`)
    return
  }
  const session = await connect({ ...(await pki.workload('client')), host: '::1', port: server.address().port })
  assert.equal(session.peerIdentity, pki.id('server'))
  const stream = session.request(get('/echo', 'POST'))
  stream.end('over v6')
  assert.equal((await readAll(stream)).toString(), 'over v6')
  await session.close()
  await server.close()
})

test('after a server crash and restart, its stateless reset ends the old sessions at once', { skip: SKIP }, async () => {
  const pki = await makePki()
  const serverTls = await pki.workload('server')
  // The first server lives in a child process so it can die without a CONNECTION_CLOSE.
  const quicModule = new URL('../../native/quic.js', import.meta.url).href
  const child = spawn(process.execPath, ['--input-type=module', '-e', `
    import { createServer } from ${JSON.stringify(quicModule)}
    const tls = JSON.parse(process.argv[1])
    const server = await createServer({ ...tls, host: '127.0.0.1', port: 0, onSession (s) {
      s.on('stream', (st) => st.respond({ ':status': '200' }, { endStream: true }))
    } })
    process.stdout.write(server.address().port + '\\n')
  `, JSON.stringify(serverTls)], { stdio: ['ignore', 'pipe', 'inherit'] })
  const port = await new Promise<number>(resolve => child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString()))))
  const session = await connect({ ...(await pki.workload('client')), host: '127.0.0.1', port })
  const first = session.request(get('/'), { endStream: true })
  await readAll(first)
  child.kill('SIGKILL')
  await once(child, 'exit')
  // Same key, same port: the restarted server derives the same reset tokens.
  const restarted = await startServer(serverTls, echo, { port })
  try {
    const closed = once(session, 'close')
    const t0 = Date.now()
    const second = session.request(get('/'), { endStream: true })
    second.on('error', () => {})
    const [err] = await closed as [Error | undefined]
    assert.match(err?.message ?? '', /stateless reset/)
    assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`)
  } finally {
    await restarted.close()
  }
})
