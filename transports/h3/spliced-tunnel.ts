// CONNECT tunnels whose bytes the native h2 engine splices to sockets (no JS per chunk): the
// outbound side hands the app socket's fd over, the inbound side lets the engine dial the target.
import type { Socket } from 'node:net'
import { SPLICE_END, SPLICE_START } from '../../native/index.js'
import type { QuicStream, SpliceRecord } from '../../native/quic.js'
import { MeshError } from '../../core/errors.js'
import type { HeaderMap, RequestHead, SplicedTunnel, SplicedTunnelResult, SpliceTunnelOptions } from '../contract.js'
import { abortReason, tunnelRefusal } from '../stream-errors.js'
import { toResponseHead } from './headers.js'
import { resetStream } from './peer-stream.js'
import type { OpenStream } from './client-stream.js'

/** The file descriptor under a net.Socket (POSIX), or an E_INTERNAL error. */
function socketFd (socket: Socket): number {
  const handle = (socket as unknown as { _handle?: { fd?: number } | null })._handle
  const fd = handle?.fd
  if (typeof fd !== 'number' || fd < 0) throw new MeshError('E_INTERNAL', 'the app socket has no file descriptor to hand to the native engine')
  return fd
}

/** A splice record as what moved and, for a failure, the MeshError the JS splice would give. */
function spliceResult (record: SpliceRecord, side: 'outbound' | 'inbound', authority: string): SplicedTunnelResult {
  const [aToB, bToA] = side === 'outbound' ? [record.toPeer, record.fromPeer] : [record.fromPeer, record.toPeer]
  let error: MeshError | undefined
  switch (record.end) {
    case SPLICE_END.done: break
    case SPLICE_END.idle: error = new MeshError('E_IDLE_TIMEOUT', `tunnel ${authority}: ${record.reason}`); break
    case SPLICE_END.socketError: error = new MeshError('E_UPSTREAM_RESET', `tunnel ${authority}: ${record.reason}`); break
    default: error = new MeshError('E_PEER_RESET', `tunnel ${authority}: ${record.reason}`)
  }
  return { aToB, bToA, error }
}

/**
 * Opens a CONNECT stream and hands `socket` to the engine, which starts splicing on the peer's
 * 2xx. Bytes the socket had already read (protocol detection) go first. The JS socket is closed
 * at once: the engine holds its own duplicate of the descriptor.
 */
export async function openSplicedTunnel (
  open: OpenStream,
  head: RequestHead,
  socket: Socket,
  options: SpliceTunnelOptions,
  track: (stream: QuicStream) => void
): Promise<SplicedTunnel> {
  const { signal } = options
  if (signal?.aborted === true) throw abortReason(signal)
  const stream = open(head, false)
  track(stream)
  socket.pause()
  let done!: (result: SplicedTunnelResult) => void
  const finished = new Promise<SplicedTunnelResult>((resolve) => { done = resolve })
  return await new Promise<SplicedTunnel>((resolve, reject) => {
    let settled = false
    const fail = (err: Error): void => {
      if (!settled) reject(err)
      settled = true
      done({ aToB: 0, bToA: 0, error: err instanceof MeshError ? err : new MeshError('E_PEER_RESET', err.message, { cause: err }) })
    }
    const onAbort = (): void => {
      fail(abortReason(signal))
      resetStream(stream)
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    stream.whenOpened(() => {
      if (stream.destroyed) return
      try {
        const early: Buffer[] = options.initial === undefined || options.initial.length === 0 ? [] : [options.initial]
        for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) early.push(chunk)
        stream.spliceFd(socketFd(socket), early.length === 0 ? null : Buffer.concat(early), options.idleMs,
          options.deferStart === true ? SPLICE_START.onJs : SPLICE_START.onAnswer)
      } catch (err) {
        fail(err instanceof MeshError ? err : new MeshError('E_INTERNAL', `cannot splice the app socket: ${(err as Error).message}`, { cause: err }))
        resetStream(stream)
        socket.destroy()
        return
      }
      // The engine has its own descriptor now; this one goes (a close, not a shutdown). With
      // deferStart it stays until start(), so that a refusal can still be answered through it.
      if (options.deferStart !== true) socket.destroy()
    })
    stream.once('response', (fields) => {
      signal?.removeEventListener('abort', onAbort)
      const response = toResponseHead(fields)
      if (response.status >= 200 && response.status < 300) {
        settled = true
        const start = options.deferStart === true
          ? (toSocket: Buffer) => {
              stream.spliceStart(toSocket)
              socket.destroy()
            }
          : undefined
        resolve({ head: response, done: finished, start })
        return
      }
      stream.on('error', () => {})
      stream.resume()
      stream.end()
      fail(tunnelRefusal(response.status, response.headers, head))
    })
    stream.on('spliced', (record: SpliceRecord) => {
      if (record.end !== SPLICE_END.refusedByPeer) done(spliceResult(record, 'outbound', head.authority))
    })
    stream.on('error', (err: Error) => fail(err instanceof MeshError ? err : new MeshError('E_PEER_RESET', `stream to ${head.authority} failed: ${err.message}`, { cause: err })))
    stream.once('close', () => {
      signal?.removeEventListener('abort', onAbort)
      if (!settled) fail(new MeshError('E_PEER_RESET', `stream to ${head.authority} closed before its answer`))
    })
  })
}

/**
 * Inbound: answers 200 with `headers` and hands `socket` to the engine at once, `toPeer` first;
 * peer bytes the stream already holds go to the socket first. See InboundTunnel.acceptSpliced.
 */
export async function acceptSplicedSocket (stream: QuicStream, authority: string, headers: HeaderMap, socket: Socket, toPeer: Buffer, idleMs: number): Promise<SplicedTunnelResult> {
  stream.respond({ ...headers, ':status': '200' })
  socket.pause()
  const early: Buffer[] = toPeer.length === 0 ? [] : [toPeer]
  for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) early.push(chunk)
  const done = new Promise<SplicedTunnelResult>((resolve) => {
    stream.once('spliced', (record: SpliceRecord) => resolve(spliceResult(record, 'inbound', authority)))
    stream.once('close', () => resolve({ aToB: 0, bToA: 0, error: new MeshError('E_PEER_RESET', `tunnel ${authority}: the caller went away`) }))
  })
  try {
    stream.spliceFd(socketFd(socket), early.length === 0 ? null : Buffer.concat(early), idleMs, SPLICE_START.now)
  } finally {
    socket.destroy()
  }
  return await done
}

/** Inbound: the engine dials the target, answers 200 and splices; see InboundTunnel.spliceTo. */
export async function spliceToTarget (stream: QuicStream, authority: string, host: string, port: number, connectMs: number, idleMs: number): Promise<SplicedTunnelResult> {
  return await new Promise<SplicedTunnelResult>((resolve, reject) => {
    let settled = false
    stream.once('spliced', (record: SpliceRecord) => {
      settled = true
      if (record.end === SPLICE_END.connectRefused) reject(new MeshError('E_UPSTREAM_UNREACHABLE', `${host}:${port}: ${record.reason}`))
      else if (record.end === SPLICE_END.connectTimeout) reject(new MeshError('E_CONNECT_TIMEOUT', `${host}:${port}: connect timed out after ${connectMs} ms`))
      else resolve(spliceResult(record, 'inbound', authority))
    })
    stream.once('close', () => {
      if (!settled) resolve({ aToB: 0, bToA: 0, error: new MeshError('E_PEER_RESET', `tunnel ${authority}: the caller went away`) })
    })
    try {
      stream.spliceConnect(host, port, connectMs, idleMs)
    } catch (err) {
      settled = true
      reject(new MeshError('E_UPSTREAM_UNREACHABLE', `${host}:${port}: ${(err as Error).message}`, { cause: err }))
    }
  })
}
