/**
 * A body stream passed through the plugins chunk by chunk. The steps run one after another (a
 * source may announce its end while its last chunk is still with the plugins), and the source
 * pauses while a chunk is with them and until the output has room again.
 */
import { PassThrough, type Readable } from 'node:stream'

export type BodyStep = (chunk: Uint8Array, endOfStream: boolean) => Promise<Uint8Array>

const EMPTY = new Uint8Array(0)

export function filteredBody (source: Readable, step: BodyStep): Readable {
  const out = new PassThrough()
  let tail: Promise<void> = Promise.resolve()
  const fail = (err: Error): void => { out.destroy(err) }
  const resume = (): void => { if (!out.destroyed) source.resume() }
  source.on('data', (chunk: Buffer) => {
    source.pause()
    tail = tail.then(async () => {
      const bytes = await step(chunk, false)
      if (out.destroyed) return
      if (bytes.length === 0 || out.write(bytes)) resume()
      else out.once('drain', resume)
    }).catch(fail)
  })
  source.once('end', () => {
    tail = tail.then(async () => {
      const bytes = await step(EMPTY, true)
      if (out.destroyed) return
      if (bytes.length > 0) out.end(bytes)
      else out.end()
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
