// The outbound request path (src/outbound/http-proxy.ts) with an in-memory h2 transport: a request
// refused unprocessed by a pooled session going away is sent once more, and only once.
import assert from 'node:assert/strict'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { pino } from 'pino'
import type { Endpoint } from '../../src/discovery/types.js'
import { MeshError } from '../../core/errors.js'
import { InflightCounter, type OutboundContext } from '../../src/outbound/context.js'
import { handleOutboundRequest } from '../../src/outbound/http-proxy.js'
import { AuthorityRouter } from '../../src/outbound/router.js'
import { SessionPool } from '../../src/outbound/session-pool.js'
import { noopTelemetry } from '../../src/telemetry.js'
import type { ConnectOptions, PeerResponse, PeerSession, Transport, TransportLogger } from '../../transports/contract.js'
import { TransportRegistry } from '../../transports/registry.js'

const quiet: TransportLogger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {}, child: () => quiet }

/** Answers 200 `ok`; told to, it refuses its next request as a session that just got GOAWAY would. */
class FakeSession implements PeerSession {
  readonly transport = 'h2'
  readonly peerIdentity = 'spiffe://test/ns/default/sa/server'
  readonly remote = { host: '127.0.0.1', port: 1 }
  closed = false
  goingAway = false
  refuseNext = false
  requests = 0
  get available (): boolean { return !this.closed && !this.goingAway }
  get streamCapacity (): number { return this.available ? 100 : 0 }
  async request (): Promise<PeerResponse> {
    this.requests++
    if (this.refuseNext) {
      this.goingAway = true
      throw new MeshError('E_PEER_REFUSED', 'takes no new streams (closing)')
    }
    return { head: { status: 200, headers: {} }, body: Readable.from([Buffer.from('ok')]), trailers: () => undefined }
  }

  async tunnel (): Promise<never> { throw new Error('not used') }
  stats (): ReturnType<PeerSession['stats']> { return { openStreams: 0, totalStreams: this.requests, rttSeconds: undefined, bytesSent: 0, bytesReceived: 0 } }
  async close (): Promise<void> { this.closed = true }
  destroy (): void { this.closed = true }
  onClose (): void {}
}

class FakeH2 implements Transport {
  readonly name = 'h2'
  sessions: FakeSession[] = []
  async connect (_options: ConnectOptions): Promise<PeerSession> {
    const session = new FakeSession()
    this.sessions.push(session)
    return session
  }

  async listen (): Promise<never> { throw new Error('not used') }
}

describe('outbound request path: a stream refused by a session going away', () => {
  const h2 = new FakeH2()
  let server: http.Server
  let port = 0
  const endpoint: Endpoint = {
    key: '127.0.0.1:1|127.0.0.1:2', peer: { host: '127.0.0.1', port: 1 }, identity: 'spiffe://test/ns/default/sa/server', target: '127.0.0.1:2', weight: 1, transport: 'h2',
  }
  const outcomes: boolean[] = []
  before(async () => {
    const registry = new TransportRegistry({ logger: quiet })
    registry.add(() => h2)
    const pick = (): { endpoint: Endpoint, done: (r: { ok: boolean }) => void } => ({ endpoint, done: (r) => { outcomes.push(r.ok) } })
    const ctx: OutboundContext = {
      router: new AuthorityRouter({ web: { aliases: [], endpoints: [] } }),
      picker: { pick: async () => pick(), tryPick: () => pick() },
      pool: new SessionPool({ tls: { ca: '', cert: '', key: '' }, connectTimeoutMs: 1000 }),
      transports: registry,
      timeouts: { connectMs: 1000, requestMs: 1000, idleMs: 0, detectMs: 100, headerReadMs: 10_000 },
      telemetry: noopTelemetry,
      logger: pino({ level: 'silent' }),
      identity: 'spiffe://test/ns/default/sa/client',
      inflight: new InflightCounter(),
    }
    server = http.createServer((req, res) => handleOutboundRequest(ctx, req, res))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    port = (server.address() as AddressInfo).port
  })
  after(async () => { await new Promise((resolve) => server.close(resolve)) })

  const get = async (): Promise<{ status: number, body: string, error: string | undefined }> => await new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/', headers: { host: 'web' }, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { body += chunk })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, error: res.headers['meshgate-error'] as string | undefined }))
    }).on('error', reject)
  })

  it('is sent once more on a fresh session, and the endpoint is not blamed', async () => {
    assert.deepEqual(await get(), { status: 200, body: 'ok', error: undefined })
    const [first] = h2.sessions
    assert.ok(first !== undefined)
    // Pooled and available when picked; the GOAWAY lands between the pick and the stream.
    first.refuseNext = true
    assert.deepEqual(await get(), { status: 200, body: 'ok', error: undefined })
    assert.equal(h2.sessions.length, 2, 'a new session carried it')
    assert.equal(first.requests, 2)
    assert.equal(h2.sessions[1]?.requests, 1)
    assert.deepEqual(outcomes, [true, true])
  })

  it('is answered with E_PEER_REFUSED when the fresh session refuses it too', async () => {
    for (const s of h2.sessions) s.refuseNext = true
    const connect = h2.connect.bind(h2)
    h2.connect = async (options) => {
      const session = await connect(options) as FakeSession
      session.refuseNext = true
      return session
    }
    const reply = await get()
    assert.equal(reply.status, 502)
    assert.equal(reply.error, 'E_PEER_REFUSED')
  })
})
