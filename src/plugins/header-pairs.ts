/**
 * The ABI's serialized header map: a u32 count, then a u32 key length and a u32 value length per
 * pair (little-endian), then each key and value followed by a NUL byte.
 */

/** Header pairs in order; names lowercase (HTTP/2 style), pseudo-headers (`:path`) first. */
export type HeaderPairs = Array<[string, string]>

export function encodePairs (pairs: HeaderPairs): Uint8Array {
  const keys = pairs.map(([k]) => Buffer.from(k, 'utf8'))
  const values = pairs.map(([, v]) => Buffer.from(v, 'utf8'))
  let size = 4 + pairs.length * 8
  for (let i = 0; i < pairs.length; i++) size += (keys[i] as Buffer).length + (values[i] as Buffer).length + 2
  const out = Buffer.alloc(size)
  out.writeUInt32LE(pairs.length, 0)
  let at = 4 + pairs.length * 8
  for (let i = 0; i < pairs.length; i++) {
    const key = keys[i] as Buffer
    const value = values[i] as Buffer
    out.writeUInt32LE(key.length, 4 + i * 8)
    out.writeUInt32LE(value.length, 8 + i * 8)
    key.copy(out, at)
    at += key.length + 1
    value.copy(out, at)
    at += value.length + 1
  }
  return out
}

/** Decodes a serialized map; throws a RangeError when the sizes run past the data. */
export function decodePairs (data: Uint8Array): HeaderPairs {
  if (data.length === 0) return []
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength)
  if (buf.length < 4) throw new RangeError('header map shorter than its count')
  const count = buf.readUInt32LE(0)
  if (4 + count * 8 > buf.length) throw new RangeError('header map count runs past the data')
  const pairs: HeaderPairs = []
  let at = 4 + count * 8
  for (let i = 0; i < count; i++) {
    const keyLength = buf.readUInt32LE(4 + i * 8)
    const valueLength = buf.readUInt32LE(8 + i * 8)
    if (at + keyLength + valueLength + 2 > buf.length) throw new RangeError('header map entry runs past the data')
    const key = buf.toString('utf8', at, at + keyLength)
    at += keyLength + 1
    const value = buf.toString('utf8', at, at + valueLength)
    at += valueLength + 1
    pairs.push([key, value])
  }
  return pairs
}
