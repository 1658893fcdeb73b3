/**
 * The transport conformance suite: the behaviour every Transport (h2, h3, …) must show, written
 * once against the contract and run by each transport's test file with its own setup().
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { createServer, type Server, type Socket } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { Readable, type Duplex } from 'node:stream'
import { MeshError } from '../../core/errors.js'
import type {
  InboundExchange, InboundHandlers, InboundTunnel, PeerAddress, PeerSession, RequestHead, TlsMaterial,
  Transport, TransportListener,
} from '../../transports/contract.js'
import { makePki, type TestPki } from '../helpers/pki.js'

/** What a transport's test file hands the suite. */
export interface ConformanceSetup {
  transport: Transport
  /** Called in after(), once everything the suite opened is closed. */
  teardown?: () => Promise<void>
}

const MiB = 1024 * 1024
const CONNECT_TIMEOUT_MS = 3000

/**
 * Defines (node:test `describe`/`it`) every conformance case against the transport `setup()`
 * returns, e.g. in test/transports/h3.test.ts:
 *
 *   runTransportConformance('h3', async () => ({ transport: h3Transport()({ logger }) }))
 *
 * The suite makes its own certificates (test/helpers/pki.ts), listens on 127.0.0.1 port 0 and
 * closes every session and listener it opened in after().
 */
export function runTransportConformance (name: string, setup: () => Promise<ConformanceSetup>): void {
  describe(`transport conformance: ${name}`, { timeout: 60_000 }, () => {
    let env: ConformanceSetup
    let transport: Transport
    let pki: TestPki
    let foreign: TestPki
    let serverTls: TlsMaterial
    let clientTls: TlsMaterial
    let listener: TransportListener
    const sessions: PeerSession[] = []
    const listeners: TransportListener[] = []
    const requestRoutes = new Map<string, (exchange: InboundExchange) => void>()
    const tunnelRoutes = new Map<string, (tunnel: InboundTunnel) => void>()

    const handlers: InboundHandlers = {
      request: (exchange) => {
        const route = requestRoutes.get(exchange.head.path)
        if (route === undefined) exchange.reject(new MeshError('E_NO_ROUTE', `no test route ${exchange.head.path}`))
        else route(exchange)
      },
      tunnel: (tunnel) => {
        const route = tunnelRoutes.get(tunnel.head.authority)
        if (route === undefined) tunnel.reject(new MeshError('E_TARGET_NOT_ALLOWED', `no test tunnel ${tunnel.head.authority}`))
        else route(tunnel)
      },
    }

    const listen = async (tls: TlsMaterial, h: InboundHandlers = handlers): Promise<TransportListener> => {
      const l = await transport.listen({ host: '127.0.0.1', port: 0, tls }, h)
      listeners.push(l)
      return l
    }

    const connect = async (options: { to?: PeerAddress, tls?: TlsMaterial, expectedIdentity?: string, connectTimeoutMs?: number } = {}): Promise<PeerSession> => {
      const session = await transport.connect({
        address: options.to ?? listener.address(),
        expectedIdentity: options.expectedIdentity ?? pki.id('server'),
        tls: options.tls ?? clientTls,
        connectTimeoutMs: options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS,
      })
      sessions.push(session)
      return session
    }

    before(async () => {
      env = await setup()
      transport = env.transport
      pki = await makePki()
      foreign = await makePki('foreign.local')
      serverTls = await pki.workload('server')
      clientTls = await pki.workload('client')
      listener = await listen(serverTls)
    })

    after(async () => {
      for (const session of sessions) session.destroy()
      for (const l of listeners) l.destroy()
      await env?.teardown?.()
    })

    describe('requests', () => {
      it('streams 1 MB bodies both ways, sha256 intact', async () => {
        requestRoutes.set('/hash', (exchange) => {
          digest(exchange.body).then((received) => {
            const payload = pattern(MiB, 7)
            exchange.respond({
              status: 200,
              headers: { 'x-request-sha256': received.sha256, 'x-request-bytes': String(received.bytes), 'x-body-sha256': sha256(payload) },
            }, chunked(payload))
          }, (err: Error) => exchange.reject(new MeshError('E_BAD_REQUEST', err.message)))
        })
        const session = await connect()
        const payload = pattern(MiB, 3)
        const response = await session.request(get('/hash', 'POST'), chunked(payload))
        assert.equal(response.head.status, 200)
        assert.equal(response.head.headers['x-request-bytes'], String(MiB))
        assert.equal(response.head.headers['x-request-sha256'], sha256(payload))
        const body = await digest(response.body)
        assert.equal(body.bytes, MiB)
        assert.equal(body.sha256, response.head.headers['x-body-sha256'])
      })

      it('keeps trailers and strips hop-by-hop headers', async () => {
        requestRoutes.set('/trailers', (exchange) => {
          exchange.respond({ status: 200, headers: { 'x-seen': Object.keys(exchange.head.headers).sort().join(',') } },
            Readable.from([Buffer.from('abc')]), () => ({ 'x-checksum': 'abc123', 'grpc-status': '0' }))
        })
        const session = await connect()
        const head = get('/trailers')
        head.headers = { connection: 'x-private', 'x-private': '1', 'keep-alive': 'timeout=5', te: 'trailers', 'x-app': 'yes' }
        const response = await session.request(head, null)
        assert.equal((await collect(response.body)).toString(), 'abc')
        const trailers = response.trailers()
        assert.equal(trailers?.['x-checksum'], 'abc123')
        assert.equal(trailers?.['grpc-status'], '0')
        const seen = String(response.head.headers['x-seen']).split(',')
        assert.ok(seen.includes('x-app'))
        assert.ok(seen.includes('te'), 'te: trailers is the one hop-by-hop field HTTP/2 keeps')
        for (const hop of ['connection', 'x-private', 'keep-alive']) assert.ok(!seen.includes(hop), `${hop} was forwarded`)
      })

      it('passes the request head and the caller identity to the listener', async () => {
        requestRoutes.set('/whoami', (exchange) => {
          const { method, authority, path, scheme } = exchange.head
          exchange.respond({ status: 200, headers: {} }, Readable.from([Buffer.from(JSON.stringify({ caller: exchange.caller, method, authority, path, scheme, hasBody: exchange.hasBody }))]))
        })
        const session = await connect()
        assert.equal(session.peerIdentity, pki.id('server'))
        const response = await session.request(get('/whoami'), null)
        assert.deepEqual(JSON.parse((await collect(response.body)).toString()), {
          caller: pki.id('client'), method: 'GET', authority: 'svc.test:8080', path: '/whoami', scheme: 'http', hasBody: false,
        })
      })

      it('can still answer after dropping an unread request body', async () => {
        requestRoutes.set('/drop-body', (exchange) => {
          exchange.body.destroy()
          exchange.reject(new MeshError('E_UPSTREAM_RESET', 'upstream went away'))
        })
        const session = await connect()
        const response = await session.request(get('/drop-body', 'POST'), chunked(pattern(MiB, 5)))
        assert.equal(response.head.status, 502)
        assert.equal(response.head.headers['meshgate-error'], 'E_UPSTREAM_RESET')
        assert.match((await collect(response.body)).toString(), /upstream went away/)
        await until(() => session.stats().openStreams === 0)
      })

      it("keeps the peer's status and meshgate-error header on a rejected request", async () => {
        requestRoutes.set('/forbidden', (exchange) => exchange.reject(new MeshError('E_FORBIDDEN', 'caller not allowed')))
        const session = await connect()
        const response = await session.request(get('/forbidden'), null)
        assert.equal(response.head.status, 403)
        assert.equal(response.head.headers['meshgate-error'], 'E_FORBIDDEN')
        assert.match((await collect(response.body)).toString(), /caller not allowed/)
      })

      it('carries 100 concurrent streams on one session', async () => {
        requestRoutes.set('/echo', (exchange) => {
          exchange.respond({ status: 200, headers: {} }, exchange.body)
        })
        const session = await connect()
        const results = await Promise.all(Array.from({ length: 100 }, async (_, i) => {
          const response = await session.request(get('/echo', 'POST'), Readable.from([Buffer.from(`stream ${i} `), pattern(4096, i)]))
          return await collect(response.body)
        }))
        results.forEach((body, i) => {
          assert.equal(body.subarray(0, `stream ${i} `.length).toString(), `stream ${i} `)
          assert.equal(body.length, `stream ${i} `.length + 4096)
        })
        assert.equal(session.stats().totalStreams, 100)
      })

      it('counts streams in stats()', async () => {
        const session = await connect()
        assert.equal(session.stats().totalStreams, 0)
        for (let i = 0; i < 3; i++) {
          const response = await session.request(get('/echo', 'POST'), Readable.from([Buffer.from('x')]))
          await collect(response.body)
        }
        await until(() => session.stats().openStreams === 0)
        const stats = session.stats()
        assert.equal(stats.totalStreams, 3)
        assert.equal(stats.openStreams, 0)
        assert.ok(stats.bytesSent > 0 && stats.bytesReceived > 0)
      })
    })

    describe('resets', () => {
      it('an aborted request resets only its own stream', async () => {
        let entered!: () => void
        const inHandler = new Promise<void>((resolve) => { entered = resolve })
        let serverSawAbort!: (reason: unknown) => void
        const aborted = new Promise((resolve) => { serverSawAbort = resolve })
        requestRoutes.set('/hang', (exchange) => {
          exchange.signal.addEventListener('abort', () => serverSawAbort(exchange.signal.reason), { once: true })
          entered()
        })
        const session = await connect()
        const controller = new AbortController()
        const hanging = session.request(get('/hang'), null, { signal: controller.signal })
        await inHandler
        controller.abort()
        await assert.rejects(hanging)
        assert.ok((await aborted) instanceof Error, 'the listener saw the stream reset')
        const response = await session.request(get('/echo', 'POST'), Readable.from([Buffer.from('still fine')]))
        assert.equal((await collect(response.body)).toString(), 'still fine')
        assert.equal(session.closed, false)
      })

      it('a request body failing mid-way is a reset at the listener, never a clean end', async () => {
        let outcome!: (what: string) => void
        const seen = new Promise<string>((resolve) => { outcome = resolve })
        requestRoutes.set('/upload', (exchange) => {
          collect(exchange.body).then((data) => outcome(`clean end after ${data.length} bytes`), (err: unknown) => {
            outcome(err instanceof MeshError ? err.code : String(err))
          })
        })
        const session = await connect()
        const body = new Readable({ read () {} })
        body.push(Buffer.alloc(10_000, 1))
        const pending = session.request(get('/upload', 'POST'), body)
        setTimeout(() => body.destroy(new Error('the app went away')), 20)
        await assert.rejects(pending, (err: unknown) => err instanceof MeshError && err.code === 'E_PEER_RESET')
        assert.equal(await seen, 'E_PEER_RESET')
      })

      it('a response body failing mid-way surfaces as E_PEER_RESET on that stream only', async () => {
        requestRoutes.set('/broken', (exchange) => {
          const body = new Readable({ read () {} })
          body.push(Buffer.alloc(1024, 1))
          exchange.respond({ status: 200, headers: {} }, body)
          setTimeout(() => body.destroy(new Error('backend went away')), 20)
        })
        const session = await connect()
        const broken = await session.request(get('/broken'), null)
        assert.equal(broken.head.status, 200)
        await assert.rejects(collect(broken.body), (err: unknown) => err instanceof MeshError && err.code === 'E_PEER_RESET')
        const response = await session.request(get('/echo', 'POST'), Readable.from([Buffer.from('ok')]))
        assert.equal((await collect(response.body)).toString(), 'ok')
      })
    })

    describe('tunnels', () => {
      it('echoes through CONNECT with the client half-closing first', async () => {
        let seenCaller = ''
        tunnelRoutes.set('reverse.svc:7', (tunnel) => {
          seenCaller = tunnel.caller
          const stream = tunnel.accept()
          collect(stream).then((data) => {
            // The client's END_STREAM arrived; our write side is still open.
            stream.end(Buffer.from(data.toString().split('').reverse().join('')))
          }, (err: Error) => stream.destroy(err))
        })
        const session = await connect()
        const { head, stream } = await session.tunnel(connectHead('reverse.svc:7'))
        assert.equal(head.status, 200)
        stream.write('hello ')
        stream.end('world')
        assert.equal((await collect(stream)).toString(), 'dlrow olleh')
        assert.equal(seenCaller, pki.id('client'))
      })

      it('keeps the client write side open after the server half-closes', async () => {
        let fromClient!: Promise<Buffer>
        tunnelRoutes.set('greet.svc:7', (tunnel) => {
          const stream = tunnel.accept()
          fromClient = collect(stream)
          stream.end('greeting')
        })
        const session = await connect()
        const { stream } = await session.tunnel(connectHead('greet.svc:7'))
        assert.equal((await readToEnd(stream)).toString(), 'greeting')
        stream.end('after the server FIN')
        assert.equal((await fromClient).toString(), 'after the server FIN')
      })

      it('carries extended CONNECT with :protocol websocket to handlers.tunnel', async () => {
        let seen: RequestHead | undefined
        tunnelRoutes.set('ws.svc:80', (tunnel) => {
          seen = tunnel.head
          const stream = tunnel.accept({ 'sec-websocket-protocol': 'chat' })
          stream.on('data', (chunk: Buffer) => stream.write(chunk))
          stream.on('end', () => stream.end())
        })
        const session = await connect()
        const { head, stream } = await session.tunnel({
          method: 'CONNECT', authority: 'ws.svc:80', path: '/chat', scheme: 'http', protocol: 'websocket', headers: { 'sec-websocket-version': '13' },
        })
        assert.equal(head.status, 200)
        assert.equal(head.headers['sec-websocket-protocol'], 'chat')
        stream.end('ping')
        assert.equal((await collect(stream)).toString(), 'ping')
        assert.equal(seen?.protocol, 'websocket')
        assert.equal(seen?.path, '/chat')
        assert.equal(seen?.method, 'CONNECT')
        assert.equal(seen?.headers['sec-websocket-version'], '13')
      })

      it('a tunnel reset by the listener is an E_PEER_RESET error at the client, never a FIN', async () => {
        tunnelRoutes.set('reset.svc:9', (tunnel) => {
          const stream = tunnel.accept()
          stream.on('error', () => {})
          stream.write('partial')
          setTimeout(() => stream.destroy(new Error('upstream reset')), 20)
        })
        const session = await connect()
        const { stream } = await session.tunnel(connectHead('reset.svc:9'))
        await assert.rejects(collect(stream), (err: unknown) => err instanceof MeshError && err.code === 'E_PEER_RESET')
        assert.equal(session.closed, false)
      })

      it("rejects a refused tunnel with the peer's error code", async () => {
        const session = await connect()
        await assert.rejects(session.tunnel(connectHead('denied.svc:1')), (err: unknown) => {
          assert.ok(err instanceof MeshError)
          assert.equal(err.code, 'E_TARGET_NOT_ALLOWED')
          assert.match(err.message, /503/)
          return true
        })
        assert.equal(session.available, true, 'a refused stream leaves the session usable')
      })
    })

    describe('identity and TLS', () => {
      it('refuses a server whose identity is not the expected one (E_PEER_IDENTITY)', async () => {
        await assert.rejects(connect({ expectedIdentity: pki.id('someone-else') }), (err: unknown) => {
          assert.ok(err instanceof MeshError)
          assert.equal(err.code, 'E_PEER_IDENTITY')
          assert.ok(err.message.includes(pki.id('someone-else')) && err.message.includes(pki.id('server')), err.message)
          return true
        })
      })

      it('refuses a client certificate from another CA', async () => {
        const material = await foreign.workload('intruder')
        await assertCallerRefused({ ...material, ca: pki.ca.cert }, '/never-foreign')
      })

      it('refuses a client certificate without a SPIFFE URI SAN', async () => {
        const issued = await pki.ca.issue('https://not-spiffe.example/workload')
        await assertCallerRefused({ ca: pki.ca.cert, cert: issued.cert, key: issued.key }, '/never-nospiffe')
      })

      it('refuses an expired server certificate (E_PEER_TLS)', async () => {
        const expired = await listen(await pki.workload('server', { expired: true }))
        await assert.rejects(connect({ to: expired.address() }), (err: unknown) => {
          assert.ok(err instanceof MeshError)
          assert.equal(err.code, 'E_PEER_TLS')
          assert.match(err.message, /expired/i)
          return true
        })
      })

      it('refuses a server certificate from another CA (E_PEER_TLS)', async () => {
        const impostor = await listen(await foreign.workload('server'))
        await assert.rejects(connect({ to: impostor.address() }), (err: unknown) => err instanceof MeshError && err.code === 'E_PEER_TLS')
      })
    })

    describe('connecting', () => {
      it('reports a closed port as E_PEER_UNREACHABLE', async () => {
        const port = await closedPort()
        await assert.rejects(connect({ to: { host: '127.0.0.1', port }, connectTimeoutMs: 2000 }),
          (err: unknown) => err instanceof MeshError && err.code === 'E_PEER_UNREACHABLE')
      })

      it('gives up after connectTimeoutMs on a silent peer (E_CONNECT_TIMEOUT)', async () => {
        const sink = await silentPeer()
        try {
          const started = Date.now()
          await assert.rejects(connect({ to: { host: '127.0.0.1', port: sink.port }, connectTimeoutMs: 200 }),
            (err: unknown) => err instanceof MeshError && err.code === 'E_CONNECT_TIMEOUT')
          assert.ok(Date.now() - started < 2000)
        } finally {
          await sink.close()
        }
      })
    })

    describe('aborting', () => {
      it('aborting connect rejects with the reason at once', async () => {
        const sink = await silentPeer()
        try {
          const controller = new AbortController()
          const pending = transport.connect({
            address: { host: '127.0.0.1', port: sink.port }, expectedIdentity: pki.id('server'), tls: clientTls, connectTimeoutMs: 5000, signal: controller.signal,
          })
          const reason = new Error('caller gave up')
          setTimeout(() => controller.abort(reason), 20)
          await assert.rejects(pending, (err: unknown) => err === reason)
        } finally {
          await sink.close()
        }
      })

      it('aborting an open tunnel resets it and the listener sees the abort', async () => {
        let serverSignal: AbortSignal | undefined
        tunnelRoutes.set('abort.svc:9', (tunnel) => {
          serverSignal = tunnel.signal
          tunnel.accept().on('error', () => {}).resume()
        })
        const session = await connect()
        const controller = new AbortController()
        const { stream } = await session.tunnel(connectHead('abort.svc:9'), { signal: controller.signal })
        stream.on('error', () => {})
        stream.write('some bytes')
        await until(() => serverSignal !== undefined)
        controller.abort()
        await until(() => serverSignal?.aborted === true)
        await until(() => stream.destroyed)
        const response = await session.request(get('/echo', 'POST'), Readable.from([Buffer.from('unaffected')]))
        assert.equal((await collect(response.body)).toString(), 'unaffected')
      })
    })

    describe('lifecycle', () => {
      it('session.close() lets an in-flight request finish, then refuses new streams', async () => {
        const gate = slowRoute('/slow-session')
        const session = await connect()
        const closes: Array<Error | undefined> = []
        session.onClose((err) => closes.push(err))
        const inFlight = session.request(get('/slow-session'), null)
        await gate.entered
        const closing = session.close()
        assert.equal(session.available, false)
        await assert.rejects(session.request(get('/echo'), null))
        gate.release()
        const response = await inFlight
        assert.equal((await collect(response.body)).toString(), 'finished')
        await closing
        await session.close() // safe twice
        session.destroy()
        assert.equal(session.closed, true)
        await until(() => closes.length > 0)
        assert.equal(closes.length, 1)
      })

      it('listener.close() sends GOAWAY but lets in-flight requests finish', async () => {
        const own = await listen(serverTls)
        const gate = slowRoute('/slow-listener')
        const session = await connect({ to: own.address() })
        const inFlight = session.request(get('/slow-listener'), null)
        await gate.entered
        const closing = own.close()
        await until(() => !session.available)
        gate.release()
        const response = await inFlight
        assert.equal((await collect(response.body)).toString(), 'finished')
        await closing
        await own.close() // safe twice
        own.destroy()
        await until(() => session.closed)
        await assert.rejects(connect({ to: own.address() }), (err: unknown) => err instanceof MeshError && err.code === 'E_PEER_UNREACHABLE')
      })

      it('session.destroy() fails open streams and calls onClose once', async () => {
        slowRoute('/slow-destroy')
        const session = await connect()
        const closes: Array<Error | undefined> = []
        session.onClose((err) => closes.push(err))
        const inFlight = session.request(get('/slow-destroy'), null)
        inFlight.catch(() => {})
        await until(() => session.stats().openStreams === 1)
        session.destroy(new MeshError('E_DRAINING', 'test teardown'))
        session.destroy()
        await assert.rejects(inFlight)
        await until(() => closes.length > 0)
        assert.equal(closes.length, 1)
        assert.equal(session.closed, true)
        assert.equal(session.available, false)
        await session.close() // resolves at once on a dead session
      })
    })

    /** A route that holds its response until release(); `entered` resolves when it is called. */
    function slowRoute (path: string): { entered: Promise<void>, release: () => void } {
      let entered!: () => void
      let release!: () => void
      const released = new Promise<void>((resolve) => { release = resolve })
      const gate = { entered: new Promise<void>((resolve) => { entered = resolve }), release }
      requestRoutes.set(path, (exchange) => {
        entered()
        released.then(() => exchange.respond({ status: 200, headers: {} }, Readable.from([Buffer.from('finished')])), () => {})
      })
      return gate
    }

    /** The caller is refused: at connect, or at the first stream; the handler never runs. */
    async function assertCallerRefused (tls: TlsMaterial, path: string): Promise<void> {
      let reached = false
      requestRoutes.set(path, (exchange) => {
        reached = true
        exchange.respond({ status: 200, headers: {} }, null)
      })
      const isRefusal = (err: unknown): boolean => err instanceof MeshError && ['E_PEER_TLS', 'E_PEER_RESET', 'E_PEER_REFUSED'].includes(err.code)
      let session: PeerSession
      try {
        session = await connect({ tls })
      } catch (err) {
        assert.ok(isRefusal(err), String(err))
        assert.equal(reached, false)
        return
      }
      await assert.rejects(session.request(get(path), null), isRefusal)
      assert.equal(reached, false)
    }
  })
}

function get (path: string, method = 'GET'): RequestHead {
  return { method, authority: 'svc.test:8080', path, scheme: 'http', headers: {} }
}

function connectHead (authority: string): RequestHead {
  return { method: 'CONNECT', authority, path: '', scheme: 'https', headers: {} }
}

/** Deterministic bytes, different per seed. */
function pattern (length: number, seed: number): Buffer {
  const buf = Buffer.allocUnsafe(length)
  for (let i = 0; i < length; i++) buf[i] = (i * 31 + seed * 17 + (i >> 8)) & 0xff
  return buf
}

/** `buf` as a stream of 64 KiB chunks (so the body really streams). */
function chunked (buf: Buffer): Readable {
  const chunks: Buffer[] = []
  for (let offset = 0; offset < buf.length; offset += 64 * 1024) chunks.push(buf.subarray(offset, offset + 64 * 1024))
  return Readable.from(chunks)
}

function sha256 (buf: Buffer): string {
  return createHash('sha256').update(buf).digest('hex')
}

async function digest (stream: Readable): Promise<{ sha256: string, bytes: number }> {
  const hash = createHash('sha256')
  let bytes = 0
  for await (const chunk of stream) {
    hash.update(chunk as Buffer)
    bytes += (chunk as Buffer).length
  }
  return { sha256: hash.digest('hex'), bytes }
}

async function collect (stream: Readable | Duplex): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer))
  return Buffer.concat(chunks)
}

/** Reads until 'end' without destroying the stream (its write side stays usable). */
async function readToEnd (stream: Duplex): Promise<Buffer> {
  return await new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    stream.on('data', (chunk: Buffer) => chunks.push(chunk))
    stream.once('end', () => resolve(Buffer.concat(chunks)))
    stream.once('error', reject)
  })
}

/** Polls `check` every 10 ms for at most `timeoutMs`. */
async function until (check: () => boolean, timeoutMs = 3000): Promise<void> {
  for (let waited = 0; waited < timeoutMs; waited += 10) {
    if (check()) return
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  assert.fail(`condition not met within ${timeoutMs} ms: ${check.toString()}`)
}

/** A loopback port nobody listens on (TCP or UDP). */
async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** A peer that accepts TCP and swallows UDP on one port but never answers a handshake. */
async function silentPeer (): Promise<{ port: number, close: () => Promise<void> }> {
  const held = new Set<Socket>()
  const server: Server = createServer((socket) => {
    held.add(socket)
    socket.on('error', () => {})
    socket.resume()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  const udp = createSocket('udp4')
  udp.on('error', () => {})
  await new Promise<void>((resolve) => {
    udp.once('listening', resolve)
    udp.once('error', () => resolve()) // the TCP half still serves TCP transports
    udp.bind(port, '127.0.0.1')
  })
  return {
    port,
    close: async () => {
      for (const socket of held) socket.destroy()
      try { udp.close() } catch {}
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
