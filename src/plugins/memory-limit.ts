/**
 * A memory limit per plugin VM: the module's own memory (section 5) gets a maximum before it is
 * compiled, so `memory.grow` past it fails inside the VM (the SDK's allocator then aborts, a trap)
 * instead of taking the process's memory. An imported memory is given the same maximum by the
 * host (see vm-instance.ts).
 */
import { WASM_PAGE } from './abi.js'

const MEMORY_SECTION = 5

/** The module bytes with every defined memory's maximum at most `maxPages`; throws on malformed input. */
export function limitMemory (bytes: Uint8Array, maxPages: number): Uint8Array<ArrayBuffer> {
  if (bytes.length < 8 || bytes[0] !== 0x00 || bytes[1] !== 0x61 || bytes[2] !== 0x73 || bytes[3] !== 0x6d) {
    throw new Error('not a WebAssembly module (no \\0asm header)')
  }
  let at = 8
  while (at < bytes.length) {
    const id = bytes[at] as number
    const size = readU32(bytes, at + 1)
    const bodyStart = size.next
    const bodyEnd = bodyStart + size.value
    if (bodyEnd > bytes.length) throw new Error('truncated WebAssembly section')
    if (id === MEMORY_SECTION) {
      const body = rewriteMemories(bytes.subarray(bodyStart, bodyEnd), maxPages)
      const head = Uint8Array.of(MEMORY_SECTION, ...writeU32(body.length))
      return concat([bytes.subarray(0, at), head, body, bytes.subarray(bodyEnd)])
    }
    at = bodyEnd
  }
  // No memory section: the module defines none (an imported one gets the limit from the host).
  return bytes.slice()
}

/** Pages of `bytes` bytes, rounded up. */
export function pagesFor (bytes: number): number {
  return Math.max(1, Math.ceil(bytes / WASM_PAGE))
}

function rewriteMemories (body: Uint8Array, maxPages: number): Uint8Array {
  const count = readU32(body, 0)
  const out: number[] = writeU32(count.value)
  let at = count.next
  for (let i = 0; i < count.value; i++) {
    const flags = body[at] as number
    if ((flags & ~0x01) !== 0) throw new Error(`unsupported memory limits flags 0x${flags.toString(16)} (shared or 64-bit memory)`)
    const min = readU32(body, at + 1)
    at = min.next
    let max = maxPages
    if ((flags & 0x01) !== 0) {
      const declared = readU32(body, at)
      at = declared.next
      max = Math.min(declared.value, maxPages)
    }
    if (min.value > max) throw new Error(`the module's memory starts at ${min.value} pages, above the limit of ${maxPages}`)
    out.push(0x01, ...writeU32(min.value), ...writeU32(max))
  }
  if (at !== body.length) throw new Error('malformed memory section')
  return Uint8Array.from(out)
}

function readU32 (bytes: Uint8Array, start: number): { value: number, next: number } {
  let value = 0
  let shift = 0
  let at = start
  for (;;) {
    if (at >= bytes.length || shift > 28) throw new Error('malformed LEB128 number')
    const byte = bytes[at++] as number
    value += (byte & 0x7f) * 2 ** shift
    if ((byte & 0x80) === 0) return { value, next: at }
    shift += 7
  }
}

function writeU32 (value: number): number[] {
  const out: number[] = []
  let rest = value
  do {
    let byte = rest & 0x7f
    rest = Math.floor(rest / 128)
    if (rest !== 0) byte |= 0x80
    out.push(byte)
  } while (rest !== 0)
  return out
}

function concat (parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}
