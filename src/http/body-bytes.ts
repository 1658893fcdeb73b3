/**
 * Counting a request body's bytes without consuming it: a 'data' listener that is attached
 * paused, so the consumer that pipes the body later still receives every chunk.
 */
import type { Readable } from 'node:stream'

/** A running count of the bytes that passed through a body so far. */
export interface ByteCount { count: number }

/** Starts counting `body`'s bytes; the body stays paused until its consumer reads it. */
export function countBodyBytes (body: Readable): ByteCount {
  const bytes: ByteCount = { count: 0 }
  body.on('data', (chunk: Buffer) => { bytes.count += chunk.length })
  // Adding a 'data' listener starts the flow; pause again so no chunk is emitted before the
  // real consumer pipes the body (pipe() resumes it).
  body.pause()
  return bytes
}

/** Counts an inbound exchange's request body, or returns a zero count when it has none. */
export function countRequestBytes (exchange: { hasBody: boolean, body: Readable }): ByteCount {
  return exchange.hasBody ? countBodyBytes(exchange.body) : { count: 0 }
}
