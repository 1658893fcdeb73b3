// Weights are respected: exact for round robin, load ∝ weight for the P2C balancers.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { RoundRobinBalancer } from '../../src/balance/round-robin.js'
import { LeastLoadedBalancer } from '../../src/balance/least-loaded.js'
import { PeakEwmaBalancer } from '../../src/balance/peak-ewma.js'
import { ManualClock } from '../../src/balance/clock.js'
import { mulberry32 } from '../../src/balance/random.js'
import type { Pick } from '../../src/balance/types.js'
import { endpoint, tally } from './fixtures.js'

const weighted = [endpoint(1, 1), endpoint(2, 2), endpoint(3, 5)]
const total = 8

test('round robin: each endpoint exactly weight times per cycle, smoothly interleaved', () => {
  const b = new RoundRobinBalancer()
  b.update(weighted)
  const keys = Array.from({ length: total * 100 }, () => b.pick('request')?.endpoint.key as string)
  const counts = tally(keys)
  for (const e of weighted) assert.equal(counts.get(e.key), e.weight * 100)
  // smooth: the weight-5 endpoint never runs more than 3 in a row
  let run = 0
  let longest = 0
  for (const k of keys) { run = k === weighted[2]?.key ? run + 1 : 0; longest = Math.max(longest, run) }
  assert.ok(longest <= 3, `longest run ${longest}`)
})

test('least loaded: 160 long-lived tunnels with churn, mean open tunnels ∝ weight within 3 %', () => {
  const random = mulberry32(5)
  const b = new LeastLoadedBalancer({ random })
  b.update(weighted)
  const open: Pick[] = []
  const sums = new Map<string, number>()
  const steps = 5000
  for (let step = 0; step < steps; step++) {
    while (open.length < 160) open.push(b.pick('tunnel') as Pick)
    for (const [key, n] of b.load()) sums.set(key, (sums.get(key) ?? 0) + n)
    // close a random tunnel, keep the population constant
    const [closed] = open.splice(Math.floor(random() * open.length), 1)
    closed?.done({ ok: true, latencyMs: 0 })
  }
  for (const e of weighted) {
    const share = (sums.get(e.key) as number) / steps / 160
    assert.ok(Math.abs(share - e.weight / total) < 0.03, `${e.key}: mean share of open tunnels ${share.toFixed(3)}, weight share ${(e.weight / total).toFixed(3)}`)
  }
})

test('least loaded: idle endpoints (each tunnel closed at once) share picks ∝ weight within 0.01', () => {
  const b = new LeastLoadedBalancer({ random: mulberry32(8) })
  b.update(weighted)
  const keys = Array.from({ length: 40_000 }, () => { const p = b.pick('tunnel') as Pick; p.done({ ok: true, latencyMs: 0 }); return p.endpoint.key })
  const counts = tally(keys)
  for (const e of weighted) {
    const share = (counts.get(e.key) as number) / keys.length
    assert.ok(Math.abs(share - e.weight / total) < 0.01, `${e.key}: share ${share.toFixed(3)}`)
  }
})

test('peak-EWMA: equal latency, 16 in flight — request share ∝ weight within 0.03 over 20 000 picks', () => {
  const clock = new ManualClock()
  const b = new PeakEwmaBalancer({ clock, random: mulberry32(11) })
  b.update(weighted)
  const inflight: Pick[] = []
  const keys: string[] = []
  for (let i = 0; i < 20_000; i++) {
    while (inflight.length < 16) {
      const p = b.pick('request') as Pick
      keys.push(p.endpoint.key)
      inflight.push(p)
    }
    clock.advance(1)
    inflight.shift()?.done({ ok: true, latencyMs: 16 })
  }
  const counts = tally(keys)
  for (const e of weighted) {
    const share = (counts.get(e.key) as number) / keys.length
    assert.ok(Math.abs(share - e.weight / total) < 0.03, `${e.key}: share ${share.toFixed(3)}, weight share ${(e.weight / total).toFixed(3)}`)
  }
})
