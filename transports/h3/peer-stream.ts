// Wrappers over an HTTP/3 stream that tell a peer's RESET_STREAM from a clean FIN, and reset cleanly.
import { Duplex, Readable } from 'node:stream'
import { H3_CODES, type QuicStream } from '../../native/quic.js'
import type { MeshError } from '../../core/errors.js'

/**
 * Buffer of a tunnel's wrapper each way, bytes (64 KiB). Larger buffers measured slower on TCP
 * bulk (bigger bursts into the UDP socket); batching comes from writev instead.
 */
const TUNNEL_BUFFER_BYTES = 64 * 1024

/** How a guard names what went wrong, for the stream it wraps. */
export interface ResetErrors {
  /** A stream error, or a stream that closed before its FIN. */
  reset: (cause?: Error) => MeshError
}

/**
 * Resets `stream` both ways (RESET_STREAM + STOP_SENDING, RFC 9114 §4.1.1) unless it is already
 * gone. The code says why: H3_REQUEST_CANCELLED when we no longer want it, H3_INTERNAL_ERROR when
 * our side of the body failed.
 */
export function resetStream (stream: QuicStream, code: number = H3_CODES.requestCancelled): void {
  if (stream.destroyed) return
  stream.on('error', () => {}) // reset() destroys; the error it may carry is ours and known
  stream.reset(code)
}

/**
 * What destroying a guarded readable before its end does: `reset` the stream (a client giving up
 * on a response), or `drain` the rest of the peer's body and drop it, so the stream can still be
 * answered (a server that does not want a request body; RFC 9114 §4.1 lets a response complete
 * before the request has).
 */
export type EarlyDestroy = 'reset' | 'drain'

/**
 * The readable side of `stream` as its own Readable: it ends only on the peer's FIN and fails with
 * `errors.reset()` on a reset or a lost session. Reading starts lazily; flow control holds because
 * the QUIC stream is paused whenever this buffer is full, and the binding then withholds credit.
 */
export function guardReadable (stream: QuicStream, errors: ResetErrors, early: EarlyDestroy): Readable {
  let ended = false
  let flowing = false
  let abandoned = false
  const startFlowing = (): void => {
    if (flowing) return
    flowing = true
    stream.on('data', onData)
  }
  const readable = new Readable({
    highWaterMark: 64 * 1024,
    read () {
      startFlowing()
      stream.resume()
    },
    destroy (err, callback) {
      if (!ended) {
        if (early === 'reset') {
          resetStream(stream)
        } else {
          abandoned = true
          startFlowing()
          stream.resume()
        }
      }
      callback(err)
    },
  })
  const onData = (chunk: Buffer): void => {
    if (!abandoned && !readable.push(chunk)) stream.pause()
  }
  watchEnd(stream, readable, errors, () => { ended = true })
  // A message whose header section ended the stream has no body to wait for: take the FIN now,
  // so the stream completes even if nobody reads the (empty) body.
  if (stream.endAfterHeaders) {
    startFlowing()
    stream.resume()
  }
  return readable
}

/**
 * Both sides of `stream` as a Duplex with half-close kept: end() sends FIN, the peer's FIN is
 * 'end' while writing goes on (RFC 9114 §4.4), and a reset is an error. autoDestroy is off, as on
 * node's own h2 streams, so reading to the end (`for await`) does not tear down the write side.
 */
export function guardDuplex (stream: QuicStream, errors: ResetErrors): Duplex {
  let ended = false
  let finished = false
  let flowing = false
  const duplex = new Duplex({
    allowHalfOpen: true,
    autoDestroy: false,
    highWaterMark: TUNNEL_BUFFER_BYTES,
    read () {
      if (!flowing) {
        flowing = true
        stream.on('data', onData)
      }
      stream.resume()
    },
    write (chunk: Buffer, encoding, callback) {
      // The callback runs once the binding took the chunk, which waits while the stream is over
      // its send high-water mark: backpressure reaches the writer.
      stream.write(chunk, encoding, callback)
    },
    writev (chunks, callback) {
      // One addon call for every chunk buffered meanwhile (the QUIC stream's _writev), not one each.
      stream.cork()
      const last = chunks.length - 1
      chunks.forEach(({ chunk }, i) => { if (i === last) stream.write(chunk, callback); else stream.write(chunk) })
      stream.uncork()
    },
    final (callback) {
      stream.end(() => {
        finished = true
        callback()
      })
    },
    destroy (err, callback) {
      if (!(ended && finished)) resetStream(stream)
      callback(err)
    },
  })
  const onData = (chunk: Buffer): void => { if (!duplex.push(chunk)) stream.pause() }
  watchEnd(stream, duplex, errors, () => { ended = true })
  stream.once('close', () => {
    // Both directions ended cleanly: let go of the wrapper once its reader has had every byte.
    if (!ended || duplex.destroyed) return
    if (duplex.readableEnded) duplex.destroy()
    else duplex.once('end', () => duplex.destroy())
  })
  return duplex
}

function watchEnd (stream: QuicStream, target: Readable, errors: ResetErrors, onEnd: () => void): void {
  let ended = false
  // A body nobody reads (a GET handler ignoring it) must not crash the process with an
  // unhandled 'error'; it is destroyed quietly instead ('close' without 'end').
  const fail = (err: MeshError): void => {
    if (target.destroyed) return
    if (target.listenerCount('error') > 0 || target.readableFlowing === true) target.destroy(err)
    else target.destroy()
  }
  stream.once('end', () => {
    ended = true
    onEnd()
    target.push(null)
  })
  stream.on('error', (err: Error) => fail(errors.reset(err)))
  stream.once('close', () => { if (!ended) fail(errors.reset(stream.errored ?? undefined)) })
}
