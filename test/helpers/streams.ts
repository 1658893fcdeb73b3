// Deterministic large payloads for transfer tests: a pseudo-random stream and its SHA-256.
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'

export interface PatternSource {
  stream: Readable
  /** SHA-256 (hex) of everything the stream produced; valid once it has ended. */
  sha256: () => string
}

/** `size` bytes in 64 KiB chunks whose content depends on the chunk index. */
export function patternStream (size: number, seed = 1): PatternSource {
  const hash = createHash('sha256')
  const block = Buffer.alloc(64 * 1024)
  let sent = 0
  let index = 0
  const stream = new Readable({
    read () {
      if (sent >= size) { this.push(null); return }
      const n = Math.min(block.length, size - sent)
      block.writeUInt32LE(index++ ^ seed, 0)
      block.fill(index & 0xff, 4, 64)
      const chunk = Buffer.from(block.subarray(0, n))
      hash.update(chunk)
      sent += n
      this.push(chunk)
    },
  })
  let digest: string | undefined
  return { stream, sha256: () => (digest ??= hash.digest('hex')) }
}
