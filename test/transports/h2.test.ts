// The h2 transport: the shared conformance suite, plus what only HTTP/2 has (PING RTT, SETTINGS, windows).
import assert from 'node:assert/strict'
import { createSecureServer, type Http2SecureServer, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls'
import { describe, it } from 'node:test'
import { MeshError } from '../../core/errors.js'
import type {
  InboundExchange, RequestHead, TlsMaterial, TransportObserver,
} from '../../transports/contract.js'
import { TransportRegistry } from '../../transports/registry.js'
import { H2_DEFAULTS, h2Transport, type H2Options } from '../../transports/h2/index.js'
import { makePki } from '../helpers/pki.js'
import { runTransportConformance } from './conformance.js'
import { quietLogger, transportRig } from '../helpers/transport-rig.js'

runTransportConformance('h2', async () => ({ transport: h2Transport({ keepAliveMs: 1000 })({ logger: quietLogger }) }))

describe('h2 only', { timeout: 30_000 }, () => {
  const rig = transportRig(h2Transport, {} as H2Options)
  const { cleanups, transport, listen, connect } = rig

  /** A plain node:http2 server with the mesh certificates, to look at what our client sends. */
  const rawServer = async (settings: { enableConnectProtocol?: boolean }, onStream: (stream: ServerHttp2Stream) => void): Promise<{ server: Http2SecureServer, port: number, sessions: ServerHttp2Session[], sockets: TLSSocket[] }> => {
    const server = createSecureServer({ ...rig.serverTls, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3', settings })
    const sessions: ServerHttp2Session[] = []
    const sockets: TLSSocket[] = []
    server.on('secureConnection', (socket: TLSSocket) => sockets.push(socket))
    server.on('session', (session) => sessions.push(session))
    server.on('stream', onStream)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => {
      for (const session of sessions) session.destroy()
      server.close()
    })
    return { server, port: (server.address() as AddressInfo).port, sessions, sockets }
  }

  it('measures RTT from keep-alive PINGs and reports it to the observer', async () => {
    const listener = await listen({}, (exchange) => exchange.respond({ status: 204, headers: {} }, null))
    const rtts: number[] = []
    const session = await connect(listener.address().port, { keepAliveMs: 50 }, { rtt: (name, seconds) => { if (name === 'h2') rtts.push(seconds) } })
    await until(() => rtts.length >= 2)
    const rtt = session.stats().rttSeconds
    assert.ok(rtt !== undefined && rtt >= 0 && rtt < 1, `rtt ${String(rtt)}`)
    assert.ok(rtts.every((s) => s >= 0 && s < 1))
  })

  it('reports sessions, streams and handshakes to the observer, and registers by name', async () => {
    const events: string[] = []
    const observer: TransportObserver = {
      handshake: (name, side, result) => events.push(`${name} handshake ${side} ${result}`),
      sessionOpened: (name, side) => events.push(`${name} session+ ${side}`),
      sessionClosed: (name, side) => events.push(`${name} session- ${side}`),
      streamOpened: (name, side) => events.push(`${name} stream+ ${side}`),
      streamClosed: (name, side) => events.push(`${name} stream- ${side}`),
    }
    const registry = new TransportRegistry({ logger: quietLogger, observer })
    const h2 = registry.add(h2Transport({ keepAliveMs: 0 }))
    assert.equal(registry.get('h2'), h2)
    const listener = await h2.listen({ host: '127.0.0.1', port: 0, tls: rig.serverTls }, {
      request: (exchange) => exchange.respond({ status: 204, headers: {} }, null),
      tunnel: (tunnel) => tunnel.reject(new MeshError('E_TARGET_NOT_ALLOWED', 'no')),
    })
    cleanups.push(() => listener.destroy())
    const session = await h2.connect({ address: listener.address(), expectedIdentity: rig.pki.id('server'), tls: rig.clientTls, connectTimeoutMs: 3000 })
    const response = await session.request(get('/'), null)
    response.body.resume()
    await session.close()
    await until(() => events.filter((e) => e.startsWith('h2 session-')).length === 2)
    for (const expected of ['h2 handshake client ok', 'h2 handshake server ok', 'h2 session+ client', 'h2 session+ server',
      'h2 stream+ client', 'h2 stream+ server', 'h2 stream- client', 'h2 stream- server', 'h2 session- client', 'h2 session- server']) {
      assert.equal(events.filter((e) => e === expected).length, 1, `${expected} in ${events.join(', ')}`)
    }
    assert.equal(session.stats().rttSeconds, undefined, 'keepAliveMs 0 sends no PING')
  })

  it('reports a lost connection to onClose as E_PEER_RESET, a GOAWAY as a clean close', async () => {
    const raw = await rawServer({}, (stream) => stream.respond({ ':status': 204 }, { endStream: true }))
    const lost = await connect(raw.port)
    const lostErr = new Promise<Error | undefined>((resolve) => lost.onClose(resolve))
    await until(() => raw.sessions.length === 1)
    raw.sockets[0]?.destroy()
    const err = await lostErr
    assert.ok(err instanceof MeshError && err.code === 'E_PEER_RESET', String(err))

    const drained = await connect(raw.port)
    const drainedErr = new Promise<Error | undefined>((resolve) => drained.onClose(resolve))
    await until(() => raw.sessions.length === 2)
    raw.sessions[1]?.close()
    assert.equal(await drainedErr, undefined)
  })

  it('advertises its SETTINGS and connection window to a client (defaults)', async () => {
    const listener = await listen({}, (exchange) => exchange.respond({ status: 204, headers: {} }, null))
    const { connect: rawConnect } = await import('node:http2')
    const client = rawConnect(`https://127.0.0.1:${listener.address().port}`, { ...rig.clientTls, checkServerIdentity: () => undefined })
    cleanups.push(() => client.destroy())
    const settings = await new Promise<Record<string, unknown>>((resolve) => client.once('remoteSettings', (s) => resolve({ ...s })))
    assert.equal(settings.initialWindowSize, H2_DEFAULTS.streamWindowBytes)
    assert.equal(settings.maxConcurrentStreams, H2_DEFAULTS.maxConcurrentStreams)
    assert.equal(settings.maxHeaderListSize, H2_DEFAULTS.maxHeaderListBytes)
    assert.equal(settings.enableConnectProtocol, true)
    // The listener raised its connection window with WINDOW_UPDATE (RFC 9113 §6.9.2).
    await until(() => client.state.remoteWindowSize === H2_DEFAULTS.connectionWindowBytes)
  })

  it('applies its window options on the client side', async () => {
    const raw = await rawServer({}, (stream) => stream.respond({ ':status': 204 }, { endStream: true }))
    const session = await connect(raw.port, { streamWindowBytes: 1024 * 1024, connectionWindowBytes: 8 * 1024 * 1024, maxConcurrentStreams: 77 })
    const response = await session.request(get('/'), null)
    assert.equal(response.head.status, 204)
    const [serverSession] = raw.sessions
    assert.ok(serverSession !== undefined)
    assert.equal(serverSession.remoteSettings.initialWindowSize, 1024 * 1024)
    assert.equal(serverSession.remoteSettings.maxConcurrentStreams, 77)
    assert.equal(serverSession.remoteSettings.enablePush, false)
    await until(() => serverSession.state.remoteWindowSize === 8 * 1024 * 1024)
  })

  it('holds a fast sender back while the reader does not read (flow control + backpressure)', async () => {
    let produced = 0
    const chunk = Buffer.alloc(64 * 1024, 1)
    const listener = await listen({}, (exchange) => {
      const body = new Readable({
        read () {
          if (produced >= 256 * 1024 * 1024) this.push(null) // bound: 256 MiB
          else { produced += chunk.length; this.push(chunk) }
        },
      })
      exchange.respond({ status: 200, headers: {} }, body)
    })
    const session = await connect(listener.address().port)
    const response = await session.request(get('/flood'), null)
    await new Promise((resolve) => setTimeout(resolve, 300))
    // One stream window (4 MiB) plus socket and stream buffers, not the whole 256 MiB.
    assert.ok(produced < 16 * 1024 * 1024, `sender produced ${produced} bytes for a reader that read none`)
    response.body.destroy()
  })

  it('is unavailable while open streams reach the peer\'s SETTINGS_MAX_CONCURRENT_STREAMS', async () => {
    const held: InboundExchange[] = []
    const listener = await listen({ maxConcurrentStreams: 2 }, (exchange) => { held.push(exchange) })
    const session = await connect(listener.address().port)
    assert.equal(session.available, true)
    const pending = [session.request(get('/a'), null), session.request(get('/b'), null)]
    await until(() => held.length === 2)
    assert.equal(session.available, false)
    for (const exchange of held) exchange.respond({ status: 200, headers: {} }, Readable.from([Buffer.from('done')]))
    for (const response of await Promise.all(pending)) response.body.resume()
    await until(() => session.available)
  })

  it('refuses extended CONNECT when the peer did not enable it (RFC 8441 §3)', async () => {
    const raw = await rawServer({}, (stream) => stream.respond({ ':status': 200 }))
    const session = await connect(raw.port)
    await assert.rejects(session.tunnel({ method: 'CONNECT', authority: 'ws.svc:80', path: '/', scheme: 'http', protocol: 'websocket', headers: {} }),
      (err: unknown) => err instanceof MeshError && err.code === 'E_PEER_REFUSED')
  })

  it('maps a refused tunnel with an unknown meshgate-error to E_PEER_REFUSED, status in the message', async () => {
    const raw = await rawServer({}, (stream) => stream.respond({ ':status': 502, 'meshgate-error': 'E_SOMETHING_NEW' }, { endStream: true }))
    const session = await connect(raw.port)
    await assert.rejects(session.tunnel({ method: 'CONNECT', authority: 'db.svc:5432', path: '', scheme: 'https', headers: {} }), (err: unknown) => {
      assert.ok(err instanceof MeshError)
      assert.equal(err.code, 'E_PEER_REFUSED')
      assert.match(err.message, /502/)
      return true
    })
  })

  it('sends a plain CONNECT with only :method and :authority (RFC 9113 §8.5)', async () => {
    let seen: Record<string, unknown> | undefined
    const raw = await rawServer({}, (stream) => {
      stream.respond({ ':status': 200 })
      stream.end()
    })
    raw.server.on('stream', (_stream, headers) => { seen = { ...headers } })
    const session = await connect(raw.port)
    const { stream } = await session.tunnel({ method: 'CONNECT', authority: 'db.svc:5432', path: '', scheme: 'https', headers: { connection: 'close' } })
    stream.end()
    stream.resume()
    assert.equal(seen?.[':method'], 'CONNECT')
    assert.equal(seen?.[':authority'], 'db.svc:5432')
    assert.equal(seen?.[':path'], undefined)
    assert.equal(seen?.[':scheme'], undefined)
    assert.equal(seen?.connection, undefined)
  })

  it('refuses a peer that does not negotiate ALPN h2 (E_PEER_TLS)', async () => {
    const server: TlsServer = createTlsServer({ ...rig.serverTls, requestCert: true, minVersion: 'TLSv1.3', ALPNProtocols: ['http/1.1'] }, (socket) => socket.end())
    server.on('tlsClientError', () => {})
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    cleanups.push(() => server.close())
    await assert.rejects(connect((server.address() as AddressInfo).port), (err: unknown) => err instanceof MeshError && err.code === 'E_PEER_TLS')
  })

  it('refuses bad client certificates at connect time (E_PEER_TLS), before any stream', async () => {
    const listener = await listen({}, (exchange) => exchange.respond({ status: 204, headers: {} }, null))
    const foreign = await makePki('foreign.local')
    const alien = await foreign.workload('client')
    const noSpiffe = await rig.pki.ca.issue('https://not-spiffe.example/client')
    const bad: TlsMaterial[] = [
      { ...alien, ca: rig.pki.ca.cert },
      { ca: rig.pki.ca.cert, ...noSpiffe },
      await rig.pki.workload('client', { expired: true }),
    ]
    for (const tls of bad) {
      await assert.rejects(transport().connect({ address: listener.address(), expectedIdentity: rig.pki.id('server'), tls, connectTimeoutMs: 3000 }),
        (err: unknown) => err instanceof MeshError && err.code === 'E_PEER_TLS' && /refused our client/.test(err.message))
    }
  })

  it('requestTo() reports the head to its target, and a refusal, never synchronously', async () => {
    const listener = await listen({}, (exchange) => exchange.respond({ status: 200, headers: { 'x-kind': 'to' } }, Readable.from([Buffer.from('hi')])))
    const session = await connect(listener.address().port)
    assert.ok(session.requestTo !== undefined)
    const head: RequestHead = { method: 'GET', authority: 'web', path: '/', scheme: 'https', headers: {} }
    const outcome = async (): Promise<{ sync: boolean, status?: number, body?: string, code?: string }> => {
      let returned = false
      let sync = false
      const settled = new Promise<{ status?: number, body?: string, code?: string }>((resolve) => {
        session.requestTo?.(head, null, {}, {
          response: (r) => {
            sync = !returned
            const chunks: Buffer[] = []
            r.body.on('data', (c: Buffer) => chunks.push(c))
            r.body.on('end', () => resolve({ status: r.head.status, body: Buffer.concat(chunks).toString() }))
          },
          failed: (err) => {
            sync = !returned
            resolve({ code: err instanceof MeshError ? err.code : err.message })
          },
        })
        returned = true
      })
      const result = await settled
      return { sync, ...result }
    }
    assert.deepEqual(await outcome(), { sync: false, status: 200, body: 'hi' })
    await session.close()
    assert.deepEqual(await outcome(), { sync: false, code: 'E_PEER_REFUSED' })
  })

  it('checks its options (E_CONFIG)', () => {
    assert.throws(() => h2Transport({ streamWindowBytes: -1 }), (err: unknown) => err instanceof MeshError && err.code === 'E_CONFIG' && /streamWindowBytes/.test(err.message))
    assert.throws(() => h2Transport({ keepAliveTimeoutMs: 0 }), (err: unknown) => err instanceof MeshError && err.code === 'E_CONFIG')
    assert.equal(h2Transport({ keepAliveMs: 0 })({ logger: quietLogger }).name, 'h2')
  })
})

function get (path: string): RequestHead {
  return { method: 'GET', authority: 'svc.test', path, scheme: 'https', headers: {} }
}

async function until (check: () => boolean, timeoutMs = 3000): Promise<void> {
  for (let waited = 0; waited < timeoutMs; waited += 10) {
    if (check()) return
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  assert.fail(`condition not met within ${timeoutMs} ms: ${check.toString()}`)
}
