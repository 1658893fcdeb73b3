// src/http/timeout-list.ts: timeouts of one duration on one interval timer; activity re-arms.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { TimeoutList, type Timed } from '../../src/http/timeout-list.js'

/** An entry that records when it fired. */
function entry (): Timed & { firedAt: number | undefined } {
  const e: Timed & { firedAt: number | undefined } = {
    timedPrev: undefined,
    timedNext: undefined,
    timedList: undefined,
    deadline: 0,
    activeAt: 0,
    firedAt: undefined,
    timedOut: () => { e.firedAt = performance.now() },
  }
  return e
}

async function until (check: () => boolean, timeoutMs = 5000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time')
    await sleep(5)
  }
}

describe('TimeoutList', () => {
  it('fires each entry once, not before its duration, in order', async () => {
    const list = new TimeoutList(40)
    const armedAt = performance.now()
    const a = entry()
    const b = entry()
    list.add(a)
    list.add(b)
    await until(() => a.firedAt !== undefined && b.firedAt !== undefined)
    assert.ok((a.firedAt ?? 0) - armedAt >= 40, `fired after ${(a.firedAt ?? 0) - armedAt} ms`)
    assert.ok((a.firedAt ?? 0) <= (b.firedAt ?? 0))
    assert.equal(a.timedList, undefined, 'off the list once fired')
  })

  it('does not fire a removed entry', async () => {
    const list = new TimeoutList(20)
    const a = entry()
    const b = entry()
    list.add(a)
    list.add(b)
    list.remove(a)
    list.remove(a) // twice is harmless
    await until(() => b.firedAt !== undefined)
    await sleep(40)
    assert.equal(a.firedAt, undefined)
  })

  it('re-arms an idle timeout from its last activity', async () => {
    const list = new TimeoutList(60)
    const a = entry()
    list.add(a)
    const keepUntil = performance.now() + 200
    while (performance.now() < keepUntil) {
      TimeoutList.touch(a)
      await sleep(10)
    }
    const lastTouch = performance.now()
    TimeoutList.touch(a)
    assert.equal(a.firedAt, undefined, 'activity kept it from firing')
    await until(() => a.firedAt !== undefined)
    assert.ok((a.firedAt ?? 0) - lastTouch >= 60, 'fired a whole duration after the last activity')
  })

  it('moves an entry from one list to another', async () => {
    const short = new TimeoutList(20)
    const long = new TimeoutList(10_000)
    const a = entry()
    short.add(a)
    long.add(a)
    assert.equal(a.timedList, long)
    await sleep(60)
    assert.equal(a.firedAt, undefined)
    long.remove(a)
  })
})
