/**
 * Timeouts of one duration for many requests on one interval timer. Arming a request costs two
 * links and a number, where a node Timeout (setTimeout, socket.setTimeout) costs an object, a
 * bound function and a timer-list insert per request, on a timer that almost never fires. A
 * timeout fires at most one tick late: a tenth of the duration, between 10 ms and 1 s.
 *
 * Idle timeouts: `touch()` marks activity; an entry whose deadline passed is re-armed from its
 * last activity instead of firing (checked lazily, at the tick), so activity costs one clock read.
 */

/** What a TimeoutList links: an object with these fields (one list at a time). */
export interface Timed {
  /** @internal */ timedPrev: Timed | undefined
  /** @internal */ timedNext: Timed | undefined
  /** @internal */ timedList: TimeoutList | undefined
  /** When the timeout fires, `performance.now()` ms. @internal */ deadline: number
  /** Last activity (idle timeouts), `performance.now()` ms. @internal */ activeAt: number
  /** Called once when the timeout fires; the entry is no longer in the list. */
  timedOut: (list: TimeoutList) => void
}

/** Longest and shortest tick, ms. */
const MAX_TICK_MS = 1000
const MIN_TICK_MS = 10

export class TimeoutList {
  /** The timeout, ms. */
  readonly durationMs: number
  readonly #tickMs: number
  #head: Timed | undefined = undefined
  #tail: Timed | undefined = undefined
  #timer: NodeJS.Timeout | undefined = undefined

  constructor (durationMs: number) {
    this.durationMs = durationMs
    this.#tickMs = Math.min(MAX_TICK_MS, Math.max(MIN_TICK_MS, Math.ceil(durationMs / 10)))
  }

  /** Arms `entry` (taking it off any list it is on) to fire `durationMs` from now. */
  add (entry: Timed): void {
    entry.timedList?.remove(entry)
    const now = performance.now()
    entry.activeAt = now
    entry.deadline = now + this.durationMs
    this.#append(entry)
    if (this.#timer === undefined) {
      this.#timer = setInterval(this.#tick, this.#tickMs)
      this.#timer.unref()
    }
  }

  /** Disarms `entry`; safe when it is not on this list. */
  remove (entry: Timed): void {
    if (entry.timedList !== this) return
    const { timedPrev: prev, timedNext: next } = entry
    if (prev === undefined) this.#head = next
    else prev.timedNext = next
    if (next === undefined) this.#tail = prev
    else next.timedPrev = prev
    entry.timedPrev = undefined
    entry.timedNext = undefined
    entry.timedList = undefined
  }

  /** Marks activity on an armed idle timeout: it fires `durationMs` after the last touch. */
  static touch (entry: Timed): void {
    if (entry.timedList !== undefined) entry.activeAt = performance.now()
  }

  /** Links `entry` in deadline order, scanning from the tail (where a new deadline usually goes). */
  #append (entry: Timed): void {
    let after = this.#tail
    while (after !== undefined && after.deadline > entry.deadline) after = after.timedPrev
    const before = after === undefined ? this.#head : after.timedNext
    entry.timedPrev = after
    entry.timedNext = before
    entry.timedList = this
    if (after === undefined) this.#head = entry
    else after.timedNext = entry
    if (before === undefined) this.#tail = entry
    else before.timedPrev = entry
  }

  readonly #tick = (): void => {
    const now = performance.now()
    for (let entry = this.#head; entry !== undefined && entry.deadline <= now; entry = this.#head) {
      this.remove(entry)
      const idleUntil = entry.activeAt + this.durationMs
      if (idleUntil > now) {
        // Active since it was armed: re-armed from its last activity.
        entry.deadline = idleUntil
        this.#append(entry)
        continue
      }
      entry.timedOut(this)
    }
    if (this.#head === undefined) {
      clearInterval(this.#timer)
      this.#timer = undefined
    }
  }
}

const lists = new Map<number, TimeoutList>()

/** The shared list of timeouts of `durationMs` (one interval timer per duration in use). */
export function timeoutList (durationMs: number): TimeoutList {
  let list = lists.get(durationMs)
  if (list === undefined) {
    list = new TimeoutList(durationMs)
    lists.set(durationMs, list)
  }
  return list
}
