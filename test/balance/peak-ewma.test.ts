// Peak-EWMA math and the P2C balancer built on it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PeakEwma, PeakEwmaBalancer } from '../../src/balance/peak-ewma.js'
import { ManualClock } from '../../src/balance/clock.js'
import { mulberry32 } from '../../src/balance/random.js'
import { endpoint, tally } from './fixtures.js'

const close = (actual: number, expected: number, epsilon = 1e-9): void => {
  assert.ok(Math.abs(actual - expected) < epsilon, `${actual} ≉ ${expected}`)
}

test('a sample above the estimate replaces it at once (peak)', () => {
  const e = new PeakEwma(30, 0, 10_000)
  e.observe(500, 1)
  assert.equal(e.estimateMs, 500)
})

test('a lower sample is blended with weight 1 − e^(−Δt/τ)', () => {
  const e = new PeakEwma(100, 0, 10_000)
  e.observe(20, 10_000) // Δt = τ: keep e^-1 of the old estimate
  close(e.estimateMs, 100 * Math.exp(-1) + 20 * (1 - Math.exp(-1)))
  const f = new PeakEwma(100, 0, 10_000)
  f.observe(20, 0) // Δt = 0: the sample counts for nothing
  close(f.estimateMs, 100)
  const g = new PeakEwma(100, 0, 10_000)
  g.observe(20, 1_000)
  close(g.estimateMs, 100 * Math.exp(-0.1) + 20 * (1 - Math.exp(-0.1)))
})

test('read at a later time the estimate decays towards 0 with τ', () => {
  const e = new PeakEwma(80, 0, 2_000)
  close(e.at(0), 80)
  close(e.at(2_000), 80 * Math.exp(-1))
  close(e.at(20_000), 80 * Math.exp(-10))
  close(e.at(-5), 80) // a clock reading before the last update counts as no time
})

test('a new endpoint starts at the default RTT; cost = RTT × (1 + pending / weight)', () => {
  const clock = new ManualClock(1_000)
  const b = new PeakEwmaBalancer({ clock, random: mulberry32(1), defaultRttMs: 40 })
  b.update([endpoint(1)])
  const slot = { endpoint: endpoint(1), state: { ewma: new PeakEwma(40, 1_000, 10_000), pending: 0 } }
  close(b.cost(slot, 1_000), 40)
  slot.state.pending = 3
  close(b.cost(slot, 1_000), 160)
  const heavy = { endpoint: endpoint(2, 4), state: { ewma: new PeakEwma(40, 1_000, 10_000), pending: 3 } }
  close(b.cost(heavy, 1_000), 40 * (1 + 3 / 4)) // weight 4 divides the pending penalty
  const p = b.pick('request')
  assert.ok(p !== undefined)
  assert.equal(p.endpoint.key, endpoint(1).key)
})

test('a 10× slower endpoint gets well under its fair share (simulated, 4 endpoints, seeded)', () => {
  const clock = new ManualClock()
  const b = new PeakEwmaBalancer({ clock, random: mulberry32(42) })
  const endpoints = [endpoint(1), endpoint(2), endpoint(3), endpoint(4)]
  b.update(endpoints)
  const latency = (key: string): number => (key === endpoints[3]?.key ? 100 : 10)
  // 8 requests in flight at any time; each finishes after its endpoint's latency.
  const inflight: Array<{ at: number, key: string, done: (r: { ok: boolean, latencyMs: number }) => void }> = []
  const picked: string[] = []
  for (let i = 0; i < 4000; i++) {
    while (inflight.length < 8) {
      const p = b.pick('request')
      assert.ok(p !== undefined)
      picked.push(p.endpoint.key)
      inflight.push({ at: clock.now() + latency(p.endpoint.key), key: p.endpoint.key, done: p.done })
    }
    inflight.sort((x, y) => x.at - y.at)
    const next = inflight.shift()
    assert.ok(next !== undefined)
    clock.advance(Math.max(0, next.at - clock.now()))
    next.done({ ok: true, latencyMs: latency(next.key) })
  }
  const share = (tally(picked).get(endpoints[3]?.key ?? '') ?? 0) / picked.length
  assert.ok(share < 0.1, `slow endpoint share ${share.toFixed(3)} should be < 0.10 (fair share 0.25)`)
})

test('state survives an update with the same key; done after removal is harmless', () => {
  const clock = new ManualClock()
  const b = new PeakEwmaBalancer({ clock, random: mulberry32(7) })
  b.update([endpoint(1)])
  const p = b.pick('request')
  assert.ok(p !== undefined)
  b.update([endpoint(1), endpoint(2)])
  assert.equal(b.size, 2)
  p.done({ ok: true, latencyMs: 500 })
  p.done({ ok: true, latencyMs: 1 }) // a second call is ignored
  // endpoint 1 learned 500 ms, so endpoint 2 (30 ms default) wins every comparison now
  const keys = Array.from({ length: 20 }, () => { const q = b.pick('request'); q?.done({ ok: true, latencyMs: 30 }); return q?.endpoint.key })
  assert.ok(keys.every((k) => k === endpoint(2).key))
  b.update([])
  assert.equal(b.pick('request'), undefined)
})
