// Wrappers over an h2 stream that tell a peer's RST_STREAM from a clean END_STREAM, and reset cleanly.
import { constants, type Http2Stream } from 'node:http2'
import { addAbortSignal, Duplex, Readable } from 'node:stream'
import { MeshError } from '../../core/errors.js'

const { NGHTTP2_NO_ERROR } = constants

/**
 * Buffer of a tunnel's wrapper each way, bytes (256 KiB). With node's 16 KiB default every 64 KiB
 * socket read filled it, so the source was paused and resumed once per read (two epoll_ctl calls
 * and a 'drain' each); at 256 KiB that happens about a third as often on TCP bulk.
 */
const TUNNEL_BUFFER_BYTES = 256 * 1024

/** Resets a stream with RST_STREAM(CANCEL); `reason` becomes the stream's error locally. */
export type Cancel = (reason?: Error) => void

/**
 * A way to reset `stream` with RST_STREAM(CANCEL) and nothing before it. Why not close(code):
 * on a stream still sending, node first flushes END_STREAM, so the peer would take a cut-off body
 * for a whole one. An AbortSignal makes node destroy the stream with its own AbortError, which it
 * turns into CANCEL without ending the stream first.
 */
export function cancellable (stream: Http2Stream): Cancel {
  return (reason) => { cancelStream(stream, reason) }
}

/** cancellable() without the closure: resets `stream` with RST_STREAM(CANCEL) now. */
export function cancelStream (stream: Http2Stream, reason?: Error): void {
  // The controller only when a reset is asked for: most streams end cleanly, and one per stream
  // (with addAbortSignal's listeners) costs more than the rest of this module. An already aborted
  // signal makes addAbortSignal destroy the stream at once.
  if (stream.destroyed) return
  const controller = new AbortController()
  controller.abort(reason)
  addAbortSignal(controller.signal, stream)
}

/** How a guard names what went wrong, for the stream it wraps. */
export interface ResetErrors {
  /** A node stream error, or a RST_STREAM seen as an early 'end' or 'close'. */
  reset: (cause?: Error) => MeshError
}

/**
 * True if the stream was reset. Node ends the readable side of a stream reset with CANCEL as if
 * END_STREAM had come (and raises no error), so an 'end' alone proves nothing.
 */
export function wasReset (stream: Http2Stream): boolean {
  const code = stream.rstCode
  return code !== undefined && code !== NGHTTP2_NO_ERROR
}

/**
 * The readable side of `stream` as its own Readable: it ends only on a real END_STREAM and fails
 * with `errors.reset()` on a reset. Reading starts lazily; flow control holds because the h2 stream
 * is paused whenever this buffer is full. Destroying it early calls `abandon` and drops whatever
 * still arrives (never pausing the h2 stream, so the peer cannot stall on a full window).
 */
export function guardReadable (stream: Http2Stream, abandon: Cancel, errors: ResetErrors): Readable {
  let ended = false
  let flowing = false
  let abandoned = false
  const startFlowing = (): void => {
    if (flowing) return
    flowing = true
    stream.on('data', onData)
  }
  const readable = new Readable({
    read () {
      startFlowing()
      stream.resume()
    },
    destroy (err, callback) {
      if (!ended) {
        abandoned = true
        abandon(err ?? undefined)
        startFlowing()
        stream.resume()
      }
      callback(err)
    },
  })
  const onData = (chunk: Buffer): void => {
    if (!abandoned && !readable.push(chunk)) stream.pause()
  }
  watchEnd(stream, readable, errors, () => { ended = true })
  return readable
}

/**
 * Both sides of `stream` as a Duplex with half-close kept: end() sends END_STREAM, the peer's
 * END_STREAM is 'end' while writing goes on (RFC 9113 §8.5), and a reset is an error.
 */
export function guardDuplex (stream: Http2Stream, cancel: Cancel, errors: ResetErrors): Duplex {
  let ended = false
  let finished = false
  let flowing = false
  const duplex = new Duplex({
    allowHalfOpen: true,
    highWaterMark: TUNNEL_BUFFER_BYTES,
    // As node's own h2 streams: reading to the end (for await) must not tear down the write side.
    autoDestroy: false,
    read () {
      if (!flowing) {
        flowing = true
        stream.on('data', onData)
      }
      stream.resume()
    },
    write (chunk: Buffer, encoding, callback) {
      // The callback runs once the h2 stream took the chunk, which waits on its send window.
      stream.write(chunk, encoding, callback)
    },
    final (callback) {
      stream.end((err?: Error | null) => {
        finished = err === undefined || err === null
        callback(err)
      })
    },
    destroy (err, callback) {
      if (!(ended && finished)) cancel(err ?? undefined)
      callback(err)
    },
  })
  const onData = (chunk: Buffer): void => { if (!duplex.push(chunk)) stream.pause() }
  watchEnd(stream, duplex, errors, () => { ended = true })
  stream.once('close', () => {
    // Both sides ended cleanly: let go of the wrapper once its reader has had every byte.
    if (!ended || duplex.destroyed) return
    if (duplex.readableEnded) duplex.destroy()
    else duplex.once('end', () => duplex.destroy())
  })
  return duplex
}

function watchEnd (stream: Http2Stream, target: Readable, errors: ResetErrors, onEnd: () => void): void {
  let ended = false
  // Why the check: a body nobody reads (a GET handler ignoring it) must not crash the process
  // with an unhandled 'error'; it is destroyed quietly instead ('close' without 'end').
  const fail = (err: MeshError): void => {
    if (target.listenerCount('error') > 0 || target.readableFlowing === true) target.destroy(err)
    else target.destroy()
  }
  stream.once('end', () => {
    if (wasReset(stream)) {
      fail(errors.reset())
      return
    }
    ended = true
    onEnd()
    target.push(null)
  })
  stream.once('error', (err) => fail(err instanceof MeshError ? err : errors.reset(err)))
  stream.once('close', () => { if (!ended) fail(errors.reset()) })
}
