// Transport selection for `auto` endpoints (src/outbound/transport-selector.ts) with in-memory transports: race, memory, retry, rerouting.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Endpoint } from '../../src/discovery/types.js'
import { MeshError } from '../../core/errors.js'
import { SessionPool } from '../../src/outbound/session-pool.js'
import { TransportSelector } from '../../src/outbound/transport-selector.js'
import { h3Requests, mayUseH3 } from '../../src/proxy.js'
import { parseConfig } from '../../src/config/load.js'
import type { ConnectOptions, PeerResponse, PeerSession, Transport, TransportLogger } from '../../transports/contract.js'
import { TransportRegistry } from '../../transports/registry.js'

const quiet: TransportLogger = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {}, child: () => quiet }
const tls = { ca: '', cert: '', key: '' }

/** A session that answers every request with 200, unless told to refuse as a closing session would. */
class FakeSession implements PeerSession {
  readonly peerIdentity = 'spiffe://test/ns/default/sa/server'
  readonly remote = { host: '127.0.0.1', port: 1 }
  closed = false
  goingAway = false
  requests = 0
  constructor (readonly transport: string) {}
  get available (): boolean { return !this.closed && !this.goingAway }
  get streamCapacity (): number { return this.available ? 100 : 0 }
  async request (): Promise<PeerResponse> {
    this.requests++
    if (this.goingAway) throw new MeshError('E_PEER_REFUSED', 'takes no new streams (closing)')
    return { head: { status: 200, headers: { via: this.transport } }, body: null as never, trailers: () => undefined }
  }

  async tunnel (): Promise<never> { throw new Error('not used') }
  stats (): ReturnType<PeerSession['stats']> { return { openStreams: 0, totalStreams: this.requests, rttSeconds: undefined, bytesSent: 0, bytesReceived: 0 } }
  async close (): Promise<void> { this.closed = true }
  destroy (): void { this.closed = true }
  onClose (): void {}
}

/** A transport whose connect() does what the test says: succeed, fail, or wait for release. */
class FakeTransport implements Transport {
  dials = 0
  sessions: FakeSession[] = []
  mode: 'ok' | 'fail' | 'hold' = 'ok'
  private held: Array<() => void> = []
  constructor (readonly name: string) {}
  async connect (_options: ConnectOptions): Promise<PeerSession> {
    this.dials++
    if (this.mode === 'fail') throw new MeshError('E_PEER_UNREACHABLE', `${this.name}: nothing listens there`)
    if (this.mode === 'hold') {
      await new Promise<void>((resolve) => this.held.push(resolve))
      throw new MeshError('E_CONNECT_TIMEOUT', `${this.name}: silent peer`)
    }
    const session = new FakeSession(this.name)
    this.sessions.push(session)
    return session
  }

  /** Ends the held dials (they fail as a silent peer's would). */
  release (): void { for (const r of this.held.splice(0)) r() }
  async listen (): Promise<never> { throw new Error('not used') }
}

function setup (options: { withH3?: boolean, headStartMs?: number } = {}): { h2: FakeTransport, h3: FakeTransport, selector: TransportSelector, fallbacks: string[], clock: { now: number } } {
  const registry = new TransportRegistry({ logger: quiet })
  const h2 = new FakeTransport('h2')
  const h3 = new FakeTransport('h3')
  registry.add(() => h2)
  if (options.withH3 !== false) registry.add(() => h3)
  const pool = new SessionPool({ tls, connectTimeoutMs: 1000, backoffMinMs: 0, backoffMaxMs: 0 }) // no pool backoff: the selector's memory is under test
  const fallbacks: string[] = []
  const clock = { now: 1_000_000 }
  const selector = new TransportSelector(registry, pool, {
    headStartMs: options.headStartMs ?? 10_000,
    retryH3Ms: 300_000,
    onFallback: (from, to, reason) => fallbacks.push(`${from}→${to} ${reason}`),
    now: () => clock.now,
  })
  return { h2, h3, selector, fallbacks, clock }
}

function endpoint (transport: Endpoint['transport']): Endpoint {
  return { key: 'k', peer: { host: '127.0.0.1', port: 4143 }, identity: 'spiffe://test/ns/default/sa/server', target: '127.0.0.1:80', weight: 1, transport }
}

describe('transport selection', () => {
  it('auto: h3 wins while it connects, and the session is reused', async () => {
    const { h2, h3, selector } = setup()
    assert.equal((await selector.session(endpoint('auto'))).transport, 'h3')
    assert.equal((await selector.session(endpoint('auto'))).transport, 'h3')
    assert.equal(h3.dials, 1)
    assert.equal(h2.dials, 0)
  })

  it('auto: an h3 failure goes to h2 at once (no head start spent), counts one fallback, and the peer stays on h2 until the retry time', async () => {
    const { h2, h3, selector, fallbacks, clock } = setup()
    h3.mode = 'fail'
    const sessions = await Promise.all([1, 2, 3].map(async () => await selector.session(endpoint('auto'))))
    assert.deepEqual(sessions.map((s) => s.transport), ['h2', 'h2', 'h2'])
    assert.deepEqual(fallbacks, ['h3→h2 E_PEER_UNREACHABLE'], 'concurrent requests share one failed dial: one fallback')
    assert.deepEqual(selector.heldOnH2(), ['127.0.0.1|4143|spiffe://test/ns/default/sa/server'])
    const dialsAfterFailure = h3.dials
    clock.now += 60_000
    assert.equal((await selector.session(endpoint('auto'))).transport, 'h2')
    assert.equal(h3.dials, dialsAfterFailure, 'h3 is not tried again before the retry time')
    h3.mode = 'ok'
    clock.now += 300_000
    assert.equal((await selector.session(endpoint('auto'))).transport, 'h3', 'h3 is tried again after the retry time')
    assert.deepEqual(selector.heldOnH2(), [])
    assert.equal(h2.dials, 1)
  })

  it('auto: when h2 fails too the peer is down, not UDP blocked: it is not held on h2, and h3 is raced again', async () => {
    const { h2, h3, selector } = setup()
    h3.mode = 'fail'
    h2.mode = 'fail'
    await assert.rejects(selector.session(endpoint('auto')))
    assert.deepEqual(selector.heldOnH2(), [])
    h3.mode = 'ok'
    h2.mode = 'ok'
    assert.equal((await selector.session(endpoint('auto'))).transport, 'h3')
  })

  it('auto: a silent h3 loses the race after its head start; later requests go to h2 without waiting', async () => {
    const { h2, h3, selector, fallbacks } = setup({ headStartMs: 20 })
    h3.mode = 'hold'
    assert.equal((await selector.session(endpoint('auto'))).transport, 'h2')
    // While the h3 dial is still pending, the next requests do not wait for another head start.
    assert.equal((await selector.session(endpoint('auto'))).transport, 'h2')
    assert.equal(h3.dials, 1)
    assert.equal(h2.dials, 1)
    h3.release()
    await new Promise((resolve) => setImmediate(resolve))
    assert.deepEqual(fallbacks, ['h3→h2 E_CONNECT_TIMEOUT'])
  })

  it('h2 and h3 are fixed; auto is h2 when this build has no h3', async () => {
    const withH3 = setup()
    withH3.h3.mode = 'fail'
    await assert.rejects(withH3.selector.session(endpoint('h3')), (err: unknown) => err instanceof MeshError && err.code === 'E_PEER_UNREACHABLE')
    assert.equal((await withH3.selector.session(endpoint('h2'))).transport, 'h2')
    assert.deepEqual(withH3.fallbacks, [], 'an endpoint that asks for h3 does not fall back')
    const without = setup({ withH3: false })
    assert.equal((await without.selector.session(endpoint('auto'))).transport, 'h2')
    await assert.rejects(without.selector.session(endpoint('h3')), (err: unknown) => err instanceof MeshError && err.code === 'E_TRANSPORT_UNAVAILABLE')
  })

  it('a request refused by a session going away is sent once more on a fresh pick', async () => {
    const { h3, selector } = setup()
    const session = await selector.session(endpoint('auto'))
    const first = h3.sessions[0]
    assert.ok(first !== undefined)
    first.goingAway = true // GOAWAY arrived between the pick and the request
    const response = await session.request({ method: 'GET', authority: 'web', path: '/', scheme: 'http', headers: {} }, null)
    assert.equal(response.head.status, 200)
    assert.equal(h3.sessions.length, 2, 'a new session carried it')
    assert.equal(h3.sessions[1]?.requests, 1)
  })
})

describe('start-up check of the config', () => {
  it('lists every YAML path that asks for h3 outright (auto does not)', () => {
    const config = parseConfig(`
log: { level: silent }
admin: false
services:
  a: { endpoints: [{ peer: "127.0.0.1:1", identity: "spiffe://t/ns/d/sa/a", target: "127.0.0.1:2", transport: h3 }] }
  b: { endpoints: [{ peer: "127.0.0.1:1", identity: "spiffe://t/ns/d/sa/b", target: "127.0.0.1:2", transport: auto }] }
`, '/tmp/h3-selection.yaml')
    assert.deepEqual(h3Requests(config), ['services.a.endpoints[0].transport'])
  })

  it('loads h3 only for a config that may use it: default inbound listeners, non-h2 endpoints, dynamic sources', () => {
    const tlsYaml = '{ ca: /tmp/ca.crt, cert: /tmp/a.crt, key: /tmp/a.key }'
    const endpoint = (transport: string): string => `{ peer: "127.0.0.1:1", identity: "spiffe://t/ns/d/sa/a", target: "127.0.0.1:2", transport: ${transport} }`
    const outbound = (services: string, discovery = ''): string => `
log: { level: silent }
admin: false
services: ${services}
${discovery}
outbound: { tls: ${tlsYaml}, listeners: [{ host: 127.0.0.1, port: 0 }] }
`
    const inbound = (listener: string): string => `
log: { level: silent }
admin: false
inbound: { tls: ${tlsYaml}, listeners: [${listener}], targets: [{ address: "127.0.0.1:2", allow: ["spiffe://t"] }] }
`
    const dns = (transport: string): string => `discovery: { sources: { corp: { kind: dns, services: { a: { name: a.mesh, type: A, port: 4143, identity: "spiffe://t/ns/d/sa/a"${transport} } } } } }`
    const cases: Array<[string, string, boolean]> = [
      ['h2 endpoints only', outbound(`{ a: { endpoints: [${endpoint('h2')}] } }`), false],
      ['an auto endpoint', outbound(`{ a: { endpoints: [${endpoint('h2')}, ${endpoint('auto')}] } }`), true],
      ['an h3 endpoint', outbound(`{ a: { endpoints: [${endpoint('h3')}] } }`), true],
      ['an inbound listener without h3', inbound('{ host: 127.0.0.1, port: 0 }'), true],
      ['an inbound listener with h3: false', inbound('{ host: 127.0.0.1, port: 0, h3: false }'), false],
      ['a dns source defaulting to auto', outbound('{ a: { source: corp } }', dns('')), true],
      ['a dns source naming h2', outbound('{ a: { source: corp } }', dns(', transport: h2')), false],
      ['a file source', outbound('{ a: { source: reg } }', 'discovery: { sources: { reg: { kind: file, path: /tmp/endpoints.yaml } } }'), true],
    ]
    for (const [name, yaml, expected] of cases) {
      assert.equal(mayUseH3(parseConfig(yaml, '/tmp/h3-selection.yaml')), expected, name)
    }
  })
})
