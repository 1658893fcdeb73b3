// The per-service stack: the request balancer switch, tunnel picks held until done, failure accrual on top.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ManualClock } from '../../src/balance/clock.js'
import { mulberry32 } from '../../src/balance/random.js'
import { ServiceBalancer } from '../../src/balance/service-balancer.js'
import type { Pick } from '../../src/balance/types.js'
import { endpoint, tally } from './fixtures.js'

test('requests: round-robin deals exactly by weight, whatever the latency', () => {
  const b = new ServiceBalancer('web', { requests: 'round-robin' }, { random: mulberry32(1), clock: new ManualClock() })
  const eps = [endpoint(1), endpoint(2), endpoint(3, 2)]
  b.update(eps)
  const keys: string[] = []
  for (let i = 0; i < 400; i++) {
    const pick = b.pick('request') as Pick
    keys.push(pick.endpoint.key)
    pick.done({ ok: true, latencyMs: pick.endpoint === eps[0] ? 500 : 1 })
  }
  const counts = tally(keys)
  assert.deepEqual([counts.get(eps[0]?.key ?? ''), counts.get(eps[1]?.key ?? ''), counts.get(eps[2]?.key ?? '')], [100, 100, 200])
})

test('requests: peak-EWMA (the default) moves away from a slow endpoint', () => {
  const clock = new ManualClock()
  const b = new ServiceBalancer('web', {}, { random: mulberry32(2), clock })
  const eps = [endpoint(1), endpoint(2), endpoint(3)]
  b.update(eps)
  const keys: string[] = []
  for (let i = 0; i < 600; i++) {
    clock.advance(5)
    const pick = b.pick('request') as Pick
    keys.push(pick.endpoint.key)
    pick.done({ ok: true, latencyMs: pick.endpoint.key === eps[0]?.key ? 200 : 5 })
  }
  const slow = tally(keys).get(eps[0]?.key ?? '') ?? 0
  assert.ok(slow / keys.length < 0.1, `slow share ${slow / keys.length}`)
})

test('tunnels: an open tunnel counts until its done, so held tunnels spread', () => {
  const b = new ServiceBalancer('db', {}, { random: mulberry32(3) })
  const eps = [endpoint(1), endpoint(2), endpoint(3)]
  b.update(eps)
  const held = Array.from({ length: 30 }, () => b.pick('tunnel') as Pick)
  const counts = tally(held.map((p) => p.endpoint.key))
  assert.ok([...counts.values()].every((n) => n >= 8 && n <= 12), JSON.stringify([...counts.values()]))
  // Close every tunnel on endpoint 1: it is now the least loaded and takes the next ones.
  for (const p of held) if (p.endpoint.key === eps[0]?.key) p.done({ ok: true, latencyMs: 1 })
  const next = Array.from({ length: 6 }, () => b.pick('tunnel') as Pick)
  assert.ok(next.filter((p) => p.endpoint.key === eps[0]?.key).length >= 4, 'the freed endpoint takes most of the next tunnels')
})
