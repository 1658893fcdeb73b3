/**
 * A body stream passed through the plugins chunk by chunk. The steps run one after another (a
 * source may announce its end while its last chunk is still with the plugins), and the source
 * pauses while a chunk is with them and until the output has room again.
 *
 * Why a chunk waits one loop turn before it goes: a body that has already ended by then (most
 * small bodies: one chunk, then the end) is handed over in one call with end_of_stream set,
 * instead of a call for the chunk and another for the end; each call is a round trip to a VM's
 * thread.
 */
import { PassThrough, type Readable } from 'node:stream'

export type BodyStep = (chunk: Uint8Array, endOfStream: boolean) => Promise<Uint8Array>

const EMPTY = new Uint8Array(0)

async function nextTurn (): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve))
}

export function filteredBody (source: Readable, step: BodyStep): Readable {
  const out = new PassThrough()
  let tail: Promise<void> = Promise.resolve()
  let ended = false
  let endSent = false
  const fail = (err: Error): void => { out.destroy(err) }
  const resume = (): void => { if (!out.destroyed) source.resume() }
  const finish = (bytes: Uint8Array): void => {
    if (bytes.length > 0) out.end(bytes)
    else out.end()
  }
  source.on('data', (chunk: Buffer) => {
    source.pause()
    tail = tail.then(async () => {
      await nextTurn()
      const last = ended
      endSent ||= last
      const bytes = await step(chunk, last)
      if (out.destroyed) return
      if (last) finish(bytes)
      else if (bytes.length === 0 || out.write(bytes)) resume()
      else out.once('drain', resume)
    }).catch(fail)
  })
  source.once('end', () => {
    ended = true
    tail = tail.then(async () => {
      if (endSent) return
      const bytes = await step(EMPTY, true)
      if (!out.destroyed) finish(bytes)
    }).catch(fail)
  })
  source.once('error', fail)
  source.once('close', () => {
    if (!source.readableEnded && !out.destroyed) out.destroy(source.errored ?? new Error('Premature close'))
  })
  out.once('close', () => { if (!source.readableEnded) source.destroy() })
  // A source paused on purpose (the exchange pauses the request body until the peer reads it)
  // flows now: `out` is what the peer reads, and its room decides the pace.
  source.resume()
  return out
}
