// The bounded wait for an endpoint and its fail-fast E_NO_ENDPOINT.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PickQueue } from '../../src/balance/queue.js'
import { RoundRobinBalancer } from '../../src/balance/round-robin.js'
import { FailureAccrualBalancer } from '../../src/balance/failure-accrual.js'
import { MeshError } from '../../core/errors.js'
import { countingObserver, endpoint } from './fixtures.js'

const isNoEndpoint = (err: unknown): boolean => err instanceof MeshError && err.code === 'E_NO_ENDPOINT' && err.status === 503

test('acquire resolves at once when an endpoint is ready', async () => {
  const q = new PickQueue(new RoundRobinBalancer())
  q.update([endpoint(1)])
  const p = await q.acquire('request')
  assert.equal(p.endpoint.key, endpoint(1).key)
  q.close()
})

test('a waiting caller is served when discovery brings an endpoint', async () => {
  const q = new PickQueue(new RoundRobinBalancer(), { maxWaitMs: 2000 })
  const waiting = q.acquire('tunnel')
  assert.equal(q.waiting, 1)
  setTimeout(() => q.update([endpoint(2)]), 20)
  const p = await waiting
  assert.equal(p.endpoint.key, endpoint(2).key)
  assert.equal(q.waiting, 0)
  q.close()
})

test('no endpoint within maxWaitMs: E_NO_ENDPOINT (503) after about that long', async () => {
  const observer = countingObserver()
  const q = new PickQueue(new RoundRobinBalancer(), { maxWaitMs: 50, service: 'web', observer })
  const started = Date.now()
  await assert.rejects(q.acquire('request'), isNoEndpoint)
  const waited = Date.now() - started
  assert.ok(waited >= 45 && waited < 1000, `waited ${waited} ms`)
  assert.deepEqual(observer.last.queueRejected, ['web', 'timeout'])
  q.close()
})

test('a full queue and maxWaitMs 0 fail at once', async () => {
  const q = new PickQueue(new RoundRobinBalancer(), { maxWaitMs: 5000, maxWaiting: 2 })
  const a = q.acquire('request')
  const b = q.acquire('request')
  await assert.rejects(q.acquire('request'), isNoEndpoint)
  q.close() // fails the two waiting
  await assert.rejects(a, isNoEndpoint)
  await assert.rejects(b, isNoEndpoint)
  await assert.rejects(q.acquire('request'), isNoEndpoint)
  q.close()
  const zero = new PickQueue(new RoundRobinBalancer(), { maxWaitMs: 0 })
  await assert.rejects(zero.acquire('request'), isNoEndpoint)
})

test('an aborted wait rejects and leaves the queue', async () => {
  const q = new PickQueue(new RoundRobinBalancer(), { maxWaitMs: 5000 })
  const controller = new AbortController()
  const waiting = q.acquire('request', controller.signal)
  controller.abort()
  await assert.rejects(waiting, isNoEndpoint)
  assert.equal(q.waiting, 0)
  q.close()
})

test('waiters are served first-come first-served as endpoints appear', async () => {
  const q = new PickQueue(new RoundRobinBalancer(), { maxWaitMs: 2000 })
  const order: number[] = []
  const all = [1, 2, 3].map((n) => q.acquire('request').then(() => { order.push(n) }))
  q.update([endpoint(1)])
  await Promise.all(all)
  assert.deepEqual(order, [1, 2, 3])
  q.close()
})

test('failure accrual readiness wakes the queue (inner readiness signal)', async () => {
  // Two endpoints both rejected → fail open; instead build a set where nothing is admitted:
  // an empty set that later gains an endpoint through update() of the accrual itself.
  const accrual = new FailureAccrualBalancer(new RoundRobinBalancer(), { backoffInitialMs: 20, jitter: 0 })
  const q = new PickQueue(accrual, { maxWaitMs: 2000 })
  const waiting = q.acquire('request')
  accrual.update([endpoint(7)]) // not through the queue: only the readiness signal can wake it
  const p = await waiting
  assert.equal(p.endpoint.key, endpoint(7).key)
  q.close()
  accrual.close()
})
