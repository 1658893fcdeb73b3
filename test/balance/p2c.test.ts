// Power-of-two-choices properties with a seeded RNG.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { powerOfTwoChoices, WeightedIndex } from '../../src/balance/p2c.js'
import { mulberry32 } from '../../src/balance/random.js'

test('mulberry32 is deterministic per seed and roughly uniform', () => {
  const a = mulberry32(123)
  const b = mulberry32(123)
  const xs = Array.from({ length: 1000 }, () => a())
  assert.deepEqual(xs, Array.from({ length: 1000 }, () => b()))
  assert.ok(xs.every((x) => x >= 0 && x < 1))
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length
  assert.ok(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`)
})

test('empty gives undefined, one item is returned as is', () => {
  const random = mulberry32(1)
  assert.equal(powerOfTwoChoices([], new WeightedIndex([]), () => 0, random), undefined)
  assert.equal(powerOfTwoChoices(['x'], new WeightedIndex([1]), () => 0, random), 'x')
})

test('the costliest item is never chosen; with two items the cheaper always wins', () => {
  const random = mulberry32(9)
  const items = [5, 3, 9, 1, 7]
  const five = new WeightedIndex([1, 1, 1, 1, 1])
  for (let i = 0; i < 2000; i++) assert.notEqual(powerOfTwoChoices(items, five, (x) => x, random), 9)
  for (let i = 0; i < 200; i++) assert.equal(powerOfTwoChoices([4, 2], new WeightedIndex([1, 1]), (x) => x, random), 2)
})

test('choices follow the order statistics: rank r of n wins with P = 2(n − r)/(n(n − 1))', () => {
  const random = mulberry32(2024)
  const n = 5
  const items = [0, 1, 2, 3, 4] // cost = rank
  const uniform = new WeightedIndex([1, 1, 1, 1, 1])
  const N = 50_000
  const counts = new Array<number>(n).fill(0)
  for (let i = 0; i < N; i++) counts[powerOfTwoChoices(items, uniform, (x) => x, random) as number]! += 1
  for (let r = 0; r < n; r++) {
    const expected = (2 * (n - 1 - r)) / (n * (n - 1))
    assert.ok(Math.abs((counts[r] as number) / N - expected) < 0.01, `rank ${r}: ${(counts[r] as number) / N} vs ${expected}`)
  }
})

test('equal costs spread uniformly (ties are random)', () => {
  const random = mulberry32(77)
  const N = 40_000
  const counts = [0, 0, 0, 0]
  for (let i = 0; i < N; i++) counts[powerOfTwoChoices([0, 1, 2, 3], new WeightedIndex([1, 1, 1, 1]), () => 1, random) as number]! += 1
  for (const c of counts) assert.ok(Math.abs(c / N - 0.25) < 0.01, `share ${c / N}`)
})

test('weighted draws: ties share ∝ weight; the second draw never repeats the first', () => {
  const random = mulberry32(31)
  const index = new WeightedIndex([1, 2, 5])
  const N = 80_000
  const counts = [0, 0, 0]
  for (let i = 0; i < N; i++) counts[powerOfTwoChoices([0, 1, 2], index, () => 0, random) as number]! += 1
  ;[1, 2, 5].forEach((w, i) => assert.ok(Math.abs((counts[i] as number) / N - w / 8) < 0.01, `index ${i}: ${(counts[i] as number) / N}`))
  for (let i = 0; i < 10_000; i++) {
    const a = index.draw(random)
    assert.notEqual(index.drawOther(a, random), a)
  }
})
