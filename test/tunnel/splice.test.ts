// splice(): bytes both ways in order, half-close carried, and a frame's tail written with the next chunk.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Duplex } from 'node:stream'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { splice } from '../../src/tunnel/splice.js'

/** A chunk as `<first char>×<length>`, so that a failed comparison stays readable. */
const show = (chunk: Buffer | string): string => `${chunk.toString().slice(0, 1)}×${chunk.length}`

/** A Duplex whose readable side the test pushes into and whose writes it records, batch by batch. */
function endpoint (): { stream: Duplex, writes: string[][] } {
  const writes: string[][] = []
  const stream = new Duplex({
    allowHalfOpen: true,
    read () {},
    write (chunk: Buffer, _encoding, callback) { writes.push([show(chunk)]); callback() },
    writev (chunks, callback) { writes.push(chunks.map((c) => show(c.chunk as Buffer))); callback() },
    final (callback) { writes.push(['<end>']); callback() },
  })
  return { stream, writes }
}

/** Two recording endpoints spliced, once both sides are flowing. */
async function spliced (): Promise<{ a: ReturnType<typeof endpoint>, b: ReturnType<typeof endpoint>, done: ReturnType<typeof splice> }> {
  const a = endpoint()
  const b = endpoint()
  const done = splice(a.stream, b.stream, { idleMs: 0 })
  await nextTurn()
  return { a, b, done }
}

/** Both sides end: the splice resolves. */
function endBoth (a: ReturnType<typeof endpoint>, b: ReturnType<typeof endpoint>): void {
  a.stream.push(null)
  b.stream.push(null)
}

const FULL = 'f'.repeat(16_375)
const FULL2 = 'g'.repeat(16_384)
const TAIL = 't'.repeat(9)

describe('splice', () => {
  it('writes a tail that follows a full chunk together with the next chunk, in one writev', async () => {
    const { a, b, done } = await spliced()
    a.stream.push(FULL)
    a.stream.push(TAIL)
    a.stream.push(FULL2)
    assert.deepEqual(b.writes, [[show(FULL)], [show(TAIL), show(FULL2)]])
    endBoth(a, b)
    const result = await done
    assert.equal(result.error, undefined)
    assert.equal(result.aToB, FULL.length + TAIL.length + FULL2.length)
    assert.deepEqual(b.writes.at(-1), ['<end>'])
  })

  it('writes a held tail by itself when nothing follows it in the same turn', async () => {
    const { a, b, done } = await spliced()
    a.stream.push(FULL)
    a.stream.push(TAIL)
    await nextTurn()
    await nextTurn()
    assert.deepEqual(b.writes, [[show(FULL)], [show(TAIL)]])
    endBoth(a, b)
    await done
  })

  it('writes a held tail before the end it precedes', async () => {
    const { a, b, done } = await spliced()
    a.stream.push(FULL)
    a.stream.push(TAIL)
    endBoth(a, b)
    const result = await done
    assert.deepEqual(b.writes, [[show(FULL)], [show(TAIL)], ['<end>']])
    assert.equal(result.aToB, FULL.length + TAIL.length)
  })

  it('never holds small chunks that do not follow a full one (interactive traffic)', async () => {
    const { a, b, done } = await spliced()
    a.stream.push('ls\n')
    assert.deepEqual(b.writes, [[show('ls\n')]], 'written at once, not after a turn of the event loop')
    b.stream.push('file\n')
    assert.deepEqual(a.writes, [[show('file\n')]])
    endBoth(a, b)
    const result = await done
    assert.equal(result.aToB, 3)
    assert.equal(result.bToA, 5)
    assert.deepEqual(a.writes.at(-1), ['<end>'])
  })
})
