/**
 * The request body's way to the workload, for both deliveries (HTTP/1 and h2c): piped, and a body
 * that fails (the peer reset it, a plugin failed on it) destroys the workload's request or stream
 * with its error, which fails the delivery (pipe() alone would leave it open, waiting for the rest).
 * A listener shared by every body, finding its destination through a symbol: no closure per request.
 */
import type { Readable, Writable } from 'node:stream'

const kTo = Symbol('meshgate.inbound.body.to')

type PipedBody = Readable & { [kTo]?: Writable }

export function pipeRequestBody (body: PipedBody, to: Writable): void {
  body[kTo] = to
  body.once('error', onBodyError)
  body.pipe(to)
}

function onBodyError (this: PipedBody, err: Error): void {
  const to = this[kTo]
  if (to !== undefined && !to.destroyed) to.destroy(err)
}
