/**
 * Requests in flight by a numeric token, for a table that sees an insert and a delete per request.
 *
 * Why not a Map: V8 rebuilds a Map's table every few dozen inserts once deletes have left holes,
 * and the table it replaces stays in the heap until the next full collection with the entries
 * that were live at the rebuild still in it. Once that old table sits in the old generation, each
 * scavenge treats those entries (and everything they reach) as live, so per-request objects that
 * died long ago get promoted, and the young-generation collector turns into a mark-compact every
 * second under load. Here a slot is one array element, written when a request starts and cleared
 * when it ends; the array grows by doubling, rarely, and is never rebuilt per request.
 *
 * A token is a slot plus a generation (the slot's reuse count), so a token that ended is never
 * mistaken for the request that reuses its slot. Tokens are never 0 and fit in 31 bits.
 */

/** Slots at most: a token's low 20 bits. */
const SLOT_BITS = 20
const SLOTS = 2 ** SLOT_BITS
/** Generations a slot cycles through: the token's next 11 bits. */
const GENERATIONS = 2 ** 11

export class TokenTable<T> {
  #values: Array<T | undefined> = []
  /** Each slot's current generation. */
  #generations: number[] = []
  /** Free slots, most recently freed last (reused first: its array element is warm). */
  readonly #free: number[] = []
  #size = 0

  get size (): number { return this.#size }

  /** Stores `value`; returns its token (not 0). Throws when every slot is in use. */
  add (value: T): number {
    let slot = this.#free.pop()
    if (slot === undefined) {
      slot = this.#values.length
      if (slot >= SLOTS - 1) throw new RangeError(`more than ${SLOTS - 1} requests in flight`)
      this.#values.push(undefined)
      this.#generations.push(0)
    }
    this.#values[slot] = value
    this.#size += 1
    return (this.#generations[slot] as number) * SLOTS + slot + 1
  }

  /** The value of a live token, else undefined. */
  get (token: number): T | undefined {
    const slot = this.#slotOf(token)
    return slot === -1 ? undefined : this.#values[slot]
  }

  /** Removes and returns the value of a live token (undefined when it ended or never was). */
  take (token: number): T | undefined {
    const slot = this.#slotOf(token)
    if (slot === -1) return undefined
    const value = this.#values[slot]
    this.#values[slot] = undefined
    this.#generations[slot] = ((this.#generations[slot] as number) + 1) % GENERATIONS
    this.#free.push(slot)
    this.#size -= 1
    return value
  }

  /** The live slot a token names, or -1. */
  #slotOf (token: number): number {
    if (!Number.isInteger(token) || token < 1) return -1
    const slot = (token - 1) % SLOTS
    const generation = Math.floor((token - 1) / SLOTS)
    if (slot >= this.#values.length || this.#generations[slot] !== generation || this.#values[slot] === undefined) return -1
    return slot
  }
}
