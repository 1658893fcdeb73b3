/**
 * A body stream passed through the plugins chunk by chunk: the source pauses while a chunk is
 * with them, so chunks keep their order, and resumes when the output has room again.
 */
import { PassThrough, type Readable } from 'node:stream'

export type BodyStep = (chunk: Uint8Array, endOfStream: boolean) => Promise<Uint8Array>

const EMPTY = new Uint8Array(0)

export function filteredBody (source: Readable, step: BodyStep): Readable {
  const out = new PassThrough()
  const resume = (): void => { if (!out.destroyed) source.resume() }
  source.on('data', (chunk: Buffer) => {
    source.pause()
    step(chunk, false).then((bytes) => {
      if (out.destroyed) return
      if (bytes.length === 0 || out.write(bytes)) resume()
      else out.once('drain', resume)
    }, (err: Error) => { out.destroy(err) })
  })
  source.once('end', () => {
    step(EMPTY, true).then((bytes) => {
      if (out.destroyed) return
      if (bytes.length > 0) out.end(bytes)
      else out.end()
    }, (err: Error) => { out.destroy(err) })
  })
  source.once('error', (err) => { out.destroy(err) })
  source.once('close', () => {
    if (!source.readableEnded && !out.destroyed) out.destroy(source.errored ?? new Error('Premature close'))
  })
  out.once('close', () => { if (!source.readableEnded) source.destroy() })
  return out
}
