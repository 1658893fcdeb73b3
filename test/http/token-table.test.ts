// src/http/token-table.ts: requests in flight by token; a slot's reuse never revives an ended token.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { TokenTable } from '../../src/http/token-table.js'

describe('TokenTable', () => {
  it('gives each live value its own non-zero token and finds it by that token', () => {
    const table = new TokenTable<string>()
    const tokens = ['a', 'b', 'c'].map((v) => table.add(v))
    assert.equal(new Set(tokens).size, 3)
    for (const t of tokens) assert.ok(t > 0 && Number.isInteger(t))
    assert.deepEqual(tokens.map((t) => table.get(t)), ['a', 'b', 'c'])
    assert.equal(table.size, 3)
  })

  it('take() removes once: the token then finds nothing', () => {
    const table = new TokenTable<string>()
    const t = table.add('a')
    assert.equal(table.take(t), 'a')
    assert.equal(table.take(t), undefined)
    assert.equal(table.get(t), undefined)
    assert.equal(table.size, 0)
  })

  it('an ended token does not name the value that reuses its slot', () => {
    const table = new TokenTable<string>()
    const first = table.add('old')
    table.take(first)
    const second = table.add('new')
    assert.notEqual(second, first)
    assert.equal(table.get(first), undefined)
    assert.equal(table.take(first), undefined)
    assert.equal(table.get(second), 'new')
  })

  it('tokens stay within 31 bits and differ from the last one through a slot\'s generation wrap', () => {
    const table = new TokenTable<number>()
    let previous = 0
    for (let i = 0; i < 5000; i++) {
      const t = table.add(i)
      assert.ok(t >= 1 && t <= 0x7fffffff, `token ${t}`)
      assert.notEqual(t, previous)
      assert.equal(table.take(t), i)
      previous = t
    }
  })

  it('ignores tokens it never gave', () => {
    const table = new TokenTable<string>()
    table.add('a')
    for (const t of [0, -1, 1.5, Number.NaN, 2 ** 40, 2 ** 20 + 1]) {
      assert.equal(table.get(t), undefined, `token ${t}`)
      assert.equal(table.take(t), undefined, `token ${t}`)
    }
    assert.equal(table.size, 1)
  })
})
