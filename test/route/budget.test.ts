// The retry budget's arithmetic under an injected clock: reserve, ratio, the window ageing out.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ManualClock } from '../../src/balance/clock.js'
import { RetryBudget } from '../../src/route/budget.js'

function drain (budget: RetryBudget): number {
  let n = 0
  while (budget.tryWithdraw()) n++
  return n
}

test('with no traffic the reserve is minPerSecond × ttl', () => {
  const budget = new RetryBudget({ ratio: 0.2, minPerSecond: 10, ttlMs: 10_000 }, new ManualClock(0))
  assert.equal(drain(budget), 100)
  assert.equal(budget.tryWithdraw(), false)
})

test('each request adds ratio to the budget', () => {
  const budget = new RetryBudget({ ratio: 0.2, minPerSecond: 0, ttlMs: 10_000 }, new ManualClock(0))
  for (let i = 0; i < 100; i++) budget.deposit()
  assert.equal(drain(budget), 20)
  for (let i = 0; i < 5; i++) budget.deposit()
  assert.equal(drain(budget), 1, '5 more requests at 20 % allow one more retry')
})

test('requests and retries age out of the window a tenth at a time', () => {
  const clock = new ManualClock(0)
  const budget = new RetryBudget({ ratio: 0.5, minPerSecond: 1, ttlMs: 10_000 }, clock)
  for (let i = 0; i < 100; i++) budget.deposit()
  assert.equal(drain(budget), 60, '10 reserve + 50 % of 100')
  clock.advance(5_000)
  assert.equal(budget.tryWithdraw(), false, 'half a window later the same counts are still in it')
  clock.advance(5_000)
  assert.equal(drain(budget), 10, 'a whole window later only the reserve is left')
})

test('under a total outage retries never exceed reserve + ratio × requests in any window', () => {
  const clock = new ManualClock(0)
  const budget = new RetryBudget({ ratio: 0.2, minPerSecond: 10, ttlMs: 10_000 }, clock)
  const retriesAt: number[] = []
  // 200 requests/s for 30 s, each failing and asking for up to 3 retries.
  for (let ms = 0; ms < 30_000; ms += 5) {
    clock.advance(5)
    budget.deposit()
    for (let r = 0; r < 3; r++) if (budget.tryWithdraw()) retriesAt.push(clock.now())
  }
  for (let start = 0; start + 10_000 <= 30_000; start += 1_000) {
    const inWindow = retriesAt.filter((t) => t > start && t <= start + 10_000).length
    // 2000 requests in a 10 s window: 400 + 100 reserve, plus one slot's carry at the edges.
    assert.ok(inWindow <= 500 + 40 + 100, `window from ${start} ms: ${inWindow} retries`)
  }
  const total = retriesAt.length
  // Three whole windows (the last step, at 30 s, opens a slot of a fourth: its reserve share is 10).
  assert.ok(total <= 0.2 * 6000 + 100 * 3 + 10, `total ${total}`)
  assert.ok(total >= 0.2 * 6000, `the budget is used, not refused outright: ${total}`)
})
