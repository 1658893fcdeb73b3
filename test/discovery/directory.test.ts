// The ServiceDirectory: routes services to sources, applies updates, keeps in-flight picks valid.
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { ServiceDirectory } from '../../src/discovery/directory.js'
import { StaticSource } from '../../src/discovery/static.js'
import { endpointKey, type DiscoverySource, type DiscoveryUpdate, type Endpoint } from '../../src/discovery/types.js'
import { MeshError } from '../../core/errors.js'
import { mulberry32 } from '../../src/balance/random.js'

/** A source the test drives by hand. */
class HandSource implements DiscoverySource {
  readonly name = 'hand'
  closed = 0
  private readonly listeners = new Map<string, (u: DiscoveryUpdate) => void>()
  watch (service: string, onUpdate: (u: DiscoveryUpdate) => void): () => void {
    this.listeners.set(service, onUpdate)
    return () => { this.listeners.delete(service) }
  }

  push (service: string, update: DiscoveryUpdate): void {
    this.listeners.get(service)?.(update)
  }

  async close (): Promise<void> { this.closed += 1 }
}

function ep (n: number): Endpoint {
  const peer = { host: '127.0.0.1', port: 4000 + n }
  return { key: endpointKey(peer, 'app:80'), peer, identity: 'spiffe://t/ns/d/sa/x', target: 'app:80', weight: 1, transport: 'h2' }
}

const code = (c: string) => (err: unknown): boolean => err instanceof MeshError && err.code === c

const hand = new HandSource()
const directory = new ServiceDirectory({
  sources: {
    static: new StaticSource({ services: { api: { endpoints: [{ peer: '127.0.0.1:4143', identity: 'spiffe://t/ns/d/sa/api', target: '127.0.0.1:8080', weight: 1, transport: 'h2' }] } } }),
    hand,
  },
  services: { api: 'static', web: 'hand', gone: 'static' },
  balancing: { queue: { maxWaitMs: 300 }, failureAccrual: { consecutiveFailures: 2, backoffInitialMs: 60_000 } },
}, { random: mulberry32(1) })

after(async () => {
  await directory.close()
  await directory.close()
  assert.equal(hand.closed, 1)
})

test('pick by service from the source that serves it', async () => {
  const p = await directory.pick('api', 'request')
  assert.equal(p.endpoint.target, '127.0.0.1:8080')
  p.done({ ok: true, latencyMs: 3 })
  assert.equal(directory.status('api'), 'ready')
})

test('no route: E_NO_ROUTE; a service the source says does not exist: E_NO_ENDPOINT at once', async () => {
  await assert.rejects(directory.pick('nowhere', 'request'), code('E_NO_ROUTE'))
  assert.equal(directory.has('nowhere'), false)
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(directory.status('gone'), 'missing')
  const started = Date.now()
  await assert.rejects(directory.pick('gone', 'tunnel'), code('E_NO_ENDPOINT'))
  assert.ok(Date.now() - started < 100)
})

test('a pick waits for the first update, then reset / add / remove are applied', async () => {
  const waiting = directory.pick('web', 'request')
  assert.equal(directory.status('web'), 'pending')
  hand.push('web', { kind: 'reset', endpoints: [ep(1)] })
  assert.equal((await waiting).endpoint.key, ep(1).key)
  hand.push('web', { kind: 'add', endpoints: [ep(2), ep(3)] })
  assert.deepEqual(directory.endpoints('web').map((e) => e.peer.port), [4001, 4002, 4003])
  hand.push('web', { kind: 'remove', keys: [ep(1).key, ep(3).key] })
  assert.deepEqual(directory.endpoints('web').map((e) => e.peer.port), [4002])
  assert.equal(directory.balancer('web')?.size, 1)
})

test('in-flight picks stay valid across updates and still count for failure accrual', async () => {
  hand.push('web', { kind: 'reset', endpoints: [ep(1), ep(2)] })
  const picks = await Promise.all([1, 2, 3, 4].map(async () => await directory.pick('web', 'tunnel')))
  const onOne = picks.filter((p) => p.endpoint.key === ep(1).key)
  assert.ok(onOne.length >= 2)
  hand.push('web', { kind: 'reset', endpoints: [ep(1), ep(2), ep(3)] }) // same keys keep their state
  for (const p of onOne) p.done({ ok: false, latencyMs: 1 })
  assert.deepEqual(directory.balancer('web')?.counts(), { ready: 2, ejected: 1, probing: 0 })
  hand.push('web', { kind: 'reset', endpoints: [ep(3)] }) // removed while picks are open
  for (const p of picks) p.done({ ok: true, latencyMs: 1 }) // harmless; the ones already done are ignored
  assert.equal((await directory.pick('web', 'request')).endpoint.key, ep(3).key)
})

test('doesNotExist fails the waiting callers at once; a later reset brings the service back', async () => {
  hand.push('web', { kind: 'reset', endpoints: [] })
  const waiting = directory.pick('web', 'request')
  hand.push('web', { kind: 'doesNotExist' })
  await assert.rejects(waiting, code('E_NO_ENDPOINT'))
  await assert.rejects(directory.pick('web', 'request'), code('E_NO_ENDPOINT'))
  hand.push('web', { kind: 'reset', endpoints: [ep(5)] })
  assert.equal((await directory.pick('web', 'request')).endpoint.key, ep(5).key)
})

test('an empty set waits the queue time, then E_NO_ENDPOINT', async () => {
  hand.push('web', { kind: 'reset', endpoints: [] })
  const started = Date.now()
  await assert.rejects(directory.pick('web', 'request'), code('E_NO_ENDPOINT'))
  assert.ok(Date.now() - started >= 250)
})

test('a route to an unknown source is a config error', () => {
  assert.throws(() => new ServiceDirectory({ sources: {}, services: { x: 'dns' } }), code('E_CONFIG'))
})
