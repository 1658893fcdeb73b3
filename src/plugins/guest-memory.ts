/**
 * Reads and writes a plugin VM's linear memory for the host calls: every pointer the plugin
 * passes is bounds-checked (a bad one is the plugin's InvalidMemoryAccess, never a host crash),
 * and data returned to the plugin is copied into memory it allocates itself.
 */

/** A pointer the plugin passed lies outside its memory. */
export class BadPointer extends Error {}

type Allocate = (size: number) => number

export class GuestMemory {
  readonly #memory: WebAssembly.Memory
  readonly #allocate: Allocate

  constructor (memory: WebAssembly.Memory, allocate: Allocate) {
    this.#memory = memory
    this.#allocate = allocate
  }

  /** A fresh view each time: memory.grow detaches the old buffer. */
  #view (): Uint8Array { return new Uint8Array(this.#memory.buffer) }

  #check (ptr: number, length: number): Uint8Array {
    const view = this.#view()
    if (ptr < 0 || length < 0 || ptr + length > view.length) throw new BadPointer(`[${ptr}, ${ptr + length}) is outside the VM's ${view.length} bytes`)
    return view
  }

  /** A copy of `length` bytes at `ptr`. */
  read (ptr: number, length: number): Uint8Array {
    return this.#check(ptr >>> 0, length >>> 0).slice(ptr >>> 0, (ptr >>> 0) + (length >>> 0))
  }

  readString (ptr: number, length: number): string {
    return Buffer.from(this.read(ptr, length)).toString('utf8')
  }

  writeU32 (ptr: number, value: number): void {
    const view = this.#check(ptr >>> 0, 4)
    new DataView(view.buffer).setUint32(ptr >>> 0, value >>> 0, true)
  }

  writeU64 (ptr: number, value: bigint): void {
    const view = this.#check(ptr >>> 0, 8)
    new DataView(view.buffer).setBigUint64(ptr >>> 0, value, true)
  }

  /**
   * Hands `data` to the plugin: allocated with its own allocator, copied, and the address and size
   * written to the two out-pointers (an empty value is address 0, size 0).
   */
  give (data: Uint8Array, ptrPtr: number, sizePtr: number): void {
    // Checked before allocating, so a bad out-pointer does not leak guest memory.
    this.#check(ptrPtr >>> 0, 4)
    this.#check(sizePtr >>> 0, 4)
    let address = 0
    if (data.length > 0) {
      address = this.#allocate(data.length) >>> 0
      if (address === 0) throw new BadPointer('the VM could not allocate memory')
      this.#check(address, data.length).set(data, address)
    }
    this.writeU32(ptrPtr, address)
    this.writeU32(sizePtr, data.length)
  }
}
