// Ejection, backoff with jitter, probing back in and fail-open, on a manual clock.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { FailureAccrualBalancer } from '../../src/balance/failure-accrual.js'
import { RoundRobinBalancer } from '../../src/balance/round-robin.js'
import { ManualClock } from '../../src/balance/clock.js'
import { mulberry32 } from '../../src/balance/random.js'
import type { Pick } from '../../src/balance/types.js'
import { countingObserver, endpoint } from './fixtures.js'

const e1 = endpoint(1)
const e2 = endpoint(2)
const e3 = endpoint(3)

function setup (options: ConstructorParameters<typeof FailureAccrualBalancer>[1] = {}) {
  const clock = new ManualClock()
  const observer = countingObserver()
  const b = new FailureAccrualBalancer(new RoundRobinBalancer(), { clock, random: () => 0, timers: false, observer, service: 'web', jitter: 0, ...options })
  b.update([e1, e2, e3])
  /** Picks until `key` comes up and reports `ok` for it (others succeed). */
  const hit = (key: string, ok: boolean): void => {
    for (let i = 0; i < 10; i++) {
      const p = b.pick('request') as Pick
      if (p.endpoint.key === key) return p.done({ ok, latencyMs: 1 })
      p.done({ ok: true, latencyMs: 1 })
    }
    throw new Error(`${key} not picked`)
  }
  const picks = (n: number): Set<string> => new Set(Array.from({ length: n }, () => { const p = b.pick('request') as Pick; p.done({ ok: true, latencyMs: 1 }); return p.endpoint.key }))
  return { clock, observer, b, hit, picks }
}

test('5 consecutive failures eject; success in between resets the count', () => {
  const { b, hit, observer } = setup()
  for (let i = 0; i < 4; i++) hit(e1.key, false)
  hit(e1.key, true)
  for (let i = 0; i < 4; i++) hit(e1.key, false)
  assert.equal(b.stateOf(e1.key), 'ready')
  hit(e1.key, false)
  assert.equal(b.stateOf(e1.key), 'ejected')
  assert.deepEqual(observer.last.ejected, ['web', e1.key, 'consecutive'])
  assert.deepEqual(b.counts(), { ready: 2, ejected: 1, probing: 0 })
  assert.deepEqual(observer.last.endpointStates, ['web', { ready: 2, ejected: 1, probing: 0 }])
  assert.equal(b.size, 2)
})

test('a failure rate over the window ejects without 5 in a row', () => {
  const { b, hit } = setup({ consecutiveFailures: 0, failureRate: 0.5, rateWindow: 10, rateMinRequests: 10 })
  for (let i = 0; i < 4; i++) { hit(e2.key, false); hit(e2.key, true) }
  assert.equal(b.stateOf(e2.key), 'ready') // 4 / 8, under the minimum of 10 outcomes
  hit(e2.key, false) // 5 / 9
  assert.equal(b.stateOf(e2.key), 'ready')
  hit(e2.key, true) // 5 / 10 ≥ 0.5 — but the last was a success, so no ejection yet
  assert.equal(b.stateOf(e2.key), 'ready')
  hit(e2.key, false) // window of 10: 5 failures / 10
  assert.equal(b.stateOf(e2.key), 'ejected')
})

test('ejection lasts the backoff; then probing; a probe success makes it ready and resets the backoff', () => {
  const { b, hit, clock, picks, observer } = setup({ consecutiveFailures: 1, backoffInitialMs: 1000 })
  hit(e1.key, false)
  assert.equal(b.stateOf(e1.key), 'ejected')
  clock.advance(999)
  assert.ok(!picks(30).has(e1.key))
  clock.advance(1)
  assert.ok(picks(3).has(e1.key), 'probed back in at 1000 ms')
  assert.equal(b.stateOf(e1.key), 'ready') // picks() reports success
  assert.equal(observer.counts.probing, 1)
  hit(e1.key, false)
  clock.advance(999)
  assert.equal(b.stateOf(e1.key), 'ejected')
  clock.advance(1)
  b.pick('request')?.done({ ok: true, latencyMs: 1 })
  assert.equal(b.stateOf(e1.key), 'probing') // after a success the next ejection starts at 1 s again
})

test('a failed probe ejects again with the backoff doubled, capped at the maximum', () => {
  const { b, hit, clock } = setup({ consecutiveFailures: 1, backoffInitialMs: 1000, backoffMaxMs: 3000 })
  const lengths: number[] = []
  hit(e1.key, false)
  for (let round = 0; round < 4; round++) {
    let waited = 0
    while (b.stateOf(e1.key) === 'ejected') { clock.advance(100); waited += 100; b.pick('request')?.done({ ok: true, latencyMs: 1 }) }
    lengths.push(waited)
    assert.equal(b.stateOf(e1.key), 'probing')
    hit(e1.key, false)
  }
  assert.deepEqual(lengths, [1000, 2000, 3000, 3000])
})

test('jitter removes up to its share of the backoff, never adds', () => {
  const random = mulberry32(3)
  const b = new FailureAccrualBalancer(new RoundRobinBalancer(), { random, timers: false, jitter: 0.2, backoffInitialMs: 1000 })
  const draws = Array.from({ length: 2000 }, () => b.backoffMs(1))
  assert.ok(draws.every((d) => d > 800 && d <= 1000))
  assert.ok(Math.min(...draws) < 810 && Math.max(...draws) > 990, 'spread over the whole range')
  assert.ok(b.backoffMs(3) <= 4000 && b.backoffMs(3) > 3200)
})

test('never ejects every endpoint: with all ejected, all are used (fail open) and it is counted', () => {
  const { b, hit, picks, observer, clock } = setup({ consecutiveFailures: 1, backoffInitialMs: 1000 })
  hit(e1.key, false)
  hit(e2.key, false)
  assert.equal(b.failOpen, false)
  hit(e3.key, false)
  assert.deepEqual(b.counts(), { ready: 0, ejected: 3, probing: 0 })
  assert.equal(b.failOpen, true)
  assert.equal(observer.counts.failOpen, 1)
  assert.equal(picks(6).size, 3, 'traffic goes to all three')
  clock.advance(1000)
  picks(3)
  assert.equal(b.failOpen, false)
})

test('late outcomes of an ejected endpoint and of a removed one are ignored; state survives updates', () => {
  const { b, hit, clock } = setup({ consecutiveFailures: 2, backoffInitialMs: 1000 })
  let early: Pick | undefined
  while (early?.endpoint.key !== e1.key) { early?.done({ ok: true, latencyMs: 1 }); early = b.pick('request') }
  hit(e1.key, false)
  b.update([e1, e2, e3, endpoint(4)]) // discovery update mid-way keeps the count
  hit(e1.key, false)
  assert.equal(b.stateOf(e1.key), 'ejected')
  early.done({ ok: true, latencyMs: 1 }) // sent before the ejection: ignored
  assert.equal(b.stateOf(e1.key), 'ejected')
  b.update([e2, e3])
  assert.equal(b.stateOf(e1.key), undefined)
  b.update([e1, e2, e3])
  assert.equal(b.stateOf(e1.key), 'ready') // came back as a new endpoint
  clock.advance(1)
})

test('with real timers an ejection ends on its own and readiness listeners hear it', async () => {
  const b = new FailureAccrualBalancer(new RoundRobinBalancer(), { consecutiveFailures: 1, backoffInitialMs: 30, jitter: 0 })
  b.update([e1, e2])
  let heard = 0
  b.onReady(() => { heard += 1 })
  const p = b.pick('request')
  p?.done({ ok: false, latencyMs: 1 })
  assert.equal(b.stateOf(p?.endpoint.key ?? ''), 'ejected')
  assert.equal(heard, 1) // the admitted set changed (shrank)
  heard = 0
  await new Promise((resolve) => setTimeout(resolve, 80))
  assert.equal(b.stateOf(p?.endpoint.key ?? ''), 'probing')
  assert.equal(heard, 1)
  b.close()
  b.close()
})
