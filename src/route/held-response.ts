/**
 * A gRPC response held back from the app until its trailers, so that a retryable `grpc-status`
 * in them can still be retried: nothing of the response has reached the app yet. The hold is
 * bounded: once the body exceeds the bound the response is released (streamed on, the held bytes
 * first) and can no longer be retried. Only routes with `grpcCodes` hold responses.
 */
import { PassThrough, type Readable } from 'node:stream'
import { MeshError } from '../../core/errors.js'
import type { PeerResponse } from '../../transports/contract.js'

/** Why the hold ended: the body ended (trailers known), it outgrew the bound, or it failed. */
export type HoldOutcome = 'ended' | 'overflow' | Error

export class HeldResponse {
  readonly response: PeerResponse
  readonly #limit: number
  readonly #chunks: Buffer[] = []
  #bytes = 0
  #ended = false
  #onOutcome: ((outcome: HoldOutcome) => void) | undefined

  /** Holds `response`'s body (up to `limitBytes`) and tells `onOutcome` once how the hold ended. */
  constructor (response: PeerResponse, limitBytes: number, onOutcome: (outcome: HoldOutcome) => void) {
    this.response = response
    this.#limit = limitBytes
    this.#onOutcome = onOutcome
    const body = response.body
    body.on('data', this.#onData)
    body.once('end', this.#onEnd)
    body.on('error', this.#onError)
    body.once('close', this.#onClose)
  }

  /** Bytes held. */
  get bytes (): number { return this.#bytes }

  /** The response as the peer sent it: the held bytes, then the rest of the body (if any). */
  release (): PeerResponse {
    const source = this.response.body
    this.#detach()
    const out = new PassThrough()
    for (const chunk of this.#chunks) out.write(chunk)
    this.#chunks.length = 0
    if (this.#ended) {
      out.end()
    } else {
      source.on('error', (err: Error) => { out.destroy(err) })
      source.once('close', () => { if (!source.readableEnded) out.destroy(source.errored ?? new MeshError('E_PEER_RESET', 'the peer response ended early')) })
      source.pipe(out)
    }
    const response = this.response
    return { head: response.head, body: out, trailers: () => response.trailers() }
  }

  /** Drops the response (a retry follows): the peer stream is cancelled. */
  discard (): void {
    const body = this.response.body
    this.#detach()
    this.#chunks.length = 0
    body.on('error', noop)
    body.destroy()
  }

  #detach (): void {
    this.#onOutcome = undefined
    const body: Readable = this.response.body
    body.off('data', this.#onData)
    body.off('end', this.#onEnd)
    body.off('error', this.#onError)
    body.off('close', this.#onClose)
  }

  #tell (outcome: HoldOutcome): void {
    const onOutcome = this.#onOutcome
    this.#onOutcome = undefined
    onOutcome?.(outcome)
  }

  readonly #onData = (chunk: Buffer): void => {
    this.#bytes += chunk.length
    this.#chunks.push(chunk)
    if (this.#bytes > this.#limit) {
      // Stop reading until release() pipes the rest.
      this.response.body.pause()
      this.#tell('overflow')
    }
  }

  readonly #onEnd = (): void => {
    this.#ended = true
    this.#tell('ended')
  }

  readonly #onError = (err: Error): void => { this.#tell(err) }

  readonly #onClose = (): void => {
    if (!this.#ended) this.#tell(this.response.body.errored ?? new MeshError('E_PEER_RESET', 'the peer response ended before its trailers'))
  }
}

function noop (): void {}
