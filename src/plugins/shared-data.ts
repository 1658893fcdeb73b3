/**
 * `proxy_get_shared_data` / `proxy_set_shared_data`: a key-value store with a compare-and-swap
 * number per key, kept for the VM across restarts (the worker reports every write, and the next
 * worker starts from them).
 */
export class SharedData {
  readonly #entries = new Map<string, { value: Uint8Array, cas: number }>()
  /** Writes since the last take(), to report to the main thread. */
  #written: Array<[string, Uint8Array, number]> = []

  constructor (initial: ReadonlyArray<[string, Uint8Array, number]> = []) {
    for (const [key, value, cas] of initial) this.#entries.set(key, { value, cas })
  }

  get (key: string): { value: Uint8Array, cas: number } | undefined {
    return this.#entries.get(key)
  }

  /** False on a CAS mismatch: a non-zero `cas` must equal the key's current one. */
  set (key: string, value: Uint8Array, cas: number): boolean {
    const entry = this.#entries.get(key)
    if (cas !== 0 && cas !== (entry?.cas ?? 0)) return false
    const next = { value, cas: ((entry?.cas ?? 0) % 0xffff_fffe) + 1 }
    this.#entries.set(key, next)
    this.#written.push([key, value, next.cas])
    return true
  }

  take (): Array<[string, Uint8Array, number]> | undefined {
    if (this.#written.length === 0) return undefined
    const out = this.#written
    this.#written = []
    return out
  }
}
