/**
 * Splices two byte streams both ways with half-close carried across (one side's end ends the
 * other's write side, never its read side), an idle timeout, and byte counts. Resolves once both
 * directions are done or either side failed (then both are destroyed).
 */
import type { Duplex } from 'node:stream'
import { MeshError } from '../../core/errors.js'

/**
 * Write buffer of the app and workload sockets a tunnel splices, bytes (256 KiB, as the h2 tunnel
 * wrapper): node's 16 KiB default paused the other side after every 64 KiB read.
 */
export const SOCKET_BUFFER_BYTES = 256 * 1024

export interface SpliceResult {
  /** Bytes read from `a` and written to `b`. */
  aToB: number
  /** Bytes read from `b` and written to `a`. */
  bToA: number
  /** Set when the splice ended by failure (reset, idle timeout). */
  error: MeshError | undefined
}

export interface SpliceOptions {
  /** No bytes either way for this long ends the splice with E_IDLE_TIMEOUT, ms (0 = never). */
  idleMs: number
}

export async function splice (a: Duplex, b: Duplex, options: SpliceOptions): Promise<SpliceResult> {
  return await new Promise((resolve) => {
    const result: SpliceResult = { aToB: 0, bToA: 0, error: undefined }
    let ended = 0
    let lastActivity = Date.now()
    let done = false
    const finish = (error?: MeshError): void => {
      if (done) return
      done = true
      clearInterval(idleTimer)
      result.error = error
      if (error !== undefined) {
        a.destroy()
        b.destroy()
      }
      resolve(result)
    }
    const toB = forwarder(a, b)
    const toA = forwarder(b, a)
    const onAData = (chunk: Buffer): void => {
      result.aToB += chunk.length
      lastActivity = Date.now()
      toB.write(chunk)
    }
    const onBData = (chunk: Buffer): void => {
      result.bToA += chunk.length
      lastActivity = Date.now()
      toA.write(chunk)
    }
    const onAEnd = (): void => { toB.flush(); b.end(); if (++ended === 2) finish() }
    const onBEnd = (): void => { toA.flush(); a.end(); if (++ended === 2) finish() }
    a.on('data', onAData)
    b.on('data', onBData)
    a.on('drain', () => b.resume())
    b.on('drain', () => a.resume())
    a.once('end', onAEnd)
    b.once('end', onBEnd)
    const onError = (err: Error): void => finish(err instanceof MeshError ? err : new MeshError('E_UPSTREAM_RESET', err.message, { cause: err }))
    a.once('error', onError)
    b.once('error', onError)
    const onClose = (): void => {
      // A side that closed without both reads ending was cut off (reset, destroy).
      if (ended < 2) finish(new MeshError('E_UPSTREAM_RESET', 'a side of the tunnel closed before both directions ended'))
    }
    a.once('close', () => { if (!a.readableEnded) onClose() })
    b.once('close', () => { if (!b.readableEnded) onClose() })
    const idleTimer = options.idleMs > 0
      ? setInterval(() => {
        if (Date.now() - lastActivity >= options.idleMs) finish(new MeshError('E_IDLE_TIMEOUT', `tunnel idle for ${options.idleMs} ms`))
      }, Math.min(options.idleMs, 1000))
      : undefined
    idleTimer?.unref()
  })
}

/** A chunk this small right after a full one is a frame's tail (see {@link forwarder}), bytes. */
const TAIL_BYTES = 1024
/** A chunk at least this large counts as full, bytes. */
const FULL_BYTES = 8192

interface Forwarder {
  write: (chunk: Buffer) => void
  /** Writes a held tail now (before the end of the stream). */
  flush: () => void
}

/**
 * Writes what `source` reads to `dest`, pausing `source` while `dest` is full. An h2 DATA frame
 * (9 + 16 384 bytes) never fits one TLS record (16 384 bytes), so during a bulk transfer nearly
 * every frame reaches the receiver in two pieces, the second a few bytes long and followed in the
 * same callback by the next frame's start: written as they come, every frame cost two write
 * calls (strace of the inbound under iperf3: 1.6 writes per frame). Such a tail is held and
 * written with the next chunk in one writev; if nothing follows it within this turn of the event
 * loop, a setImmediate writes it. Small chunks that do not follow a full one (interactive traffic)
 * are never held.
 */
function forwarder (source: Duplex, dest: Duplex): Forwarder {
  let held: Buffer | undefined
  let lastFull = false
  let flushScheduled = false
  const send = (chunk: Buffer): void => { if (!dest.write(chunk)) source.pause() }
  const flush = (): void => {
    if (held === undefined) return
    const tail = held
    held = undefined
    send(tail)
  }
  const scheduledFlush = (): void => { flushScheduled = false; flush() }
  return {
    write (chunk) {
      if (held !== undefined) {
        const tail = held
        held = undefined
        dest.cork()
        dest.write(tail)
        send(chunk)
        dest.uncork()
      } else if (lastFull && chunk.length < TAIL_BYTES) {
        held = chunk
        if (!flushScheduled) {
          flushScheduled = true
          setImmediate(scheduledFlush)
        }
        lastFull = false
        return
      } else {
        send(chunk)
      }
      lastFull = chunk.length >= FULL_BYTES
    },
    flush,
  }
}
