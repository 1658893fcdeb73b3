/**
 * A request body that can be sent more than once: the chunks are kept, up to a bound, while the
 * first try streams them on, so a retry can send them again and then the rest as it arrives. A
 * body larger than the bound streams on as usual but is no longer replayable (then no retry).
 */
import { PassThrough, type Readable } from 'node:stream'

export class ReplayBody {
  readonly #source: Readable
  readonly #limit: number
  #chunks: Buffer[] | undefined = []
  #bytes = 0
  #ended = false
  #current: PassThrough | undefined = undefined

  constructor (source: Readable, limitBytes: number) {
    this.#source = source
    this.#limit = limitBytes
    source.on('data', this.#onData)
    source.once('end', this.#onEnd)
    source.once('error', this.#onError)
    source.pause()
  }

  /** True while every byte so far is kept (the body fits the bound). */
  get replayable (): boolean { return this.#chunks !== undefined }

  /** Bytes seen so far. */
  get bytes (): number { return this.#bytes }

  /** A fresh stream of the whole body for one try (the previous try's stream is let go). */
  attempt (): Readable {
    const previous = this.#current
    if (previous !== undefined) {
      previous.off('drain', this.#onDrain)
      if (!previous.destroyed) previous.destroy()
    }
    const out = new PassThrough()
    this.#current = out
    for (const chunk of this.#chunks ?? []) out.write(chunk)
    if (this.#ended) {
      out.end()
    } else {
      out.on('drain', this.#onDrain)
      if (out.writableNeedDrain) this.#source.pause()
      else this.#source.resume()
    }
    return out
  }

  readonly #onData = (chunk: Buffer): void => {
    this.#bytes += chunk.length
    if (this.#chunks !== undefined) {
      if (this.#bytes <= this.#limit) this.#chunks.push(chunk)
      else this.#chunks = undefined
    }
    const out = this.#current
    if (out !== undefined && !out.destroyed && !out.write(chunk)) this.#source.pause()
  }

  readonly #onDrain = (): void => { this.#source.resume() }

  readonly #onEnd = (): void => {
    this.#ended = true
    this.#current?.end()
  }

  readonly #onError = (err: Error): void => {
    this.#chunks = undefined
    this.#current?.destroy(err)
  }
}
