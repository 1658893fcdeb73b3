/**
 * Raw HTTP/2 for the native engine's tests: a frame encoder (RFC 9113 §4.1, a 9-byte header and
 * a payload), a fixed HPACK request block, and a client that connects with node:tls (ALPN h2, a
 * client certificate) or, for h2c, plain TCP, sends the preface and splits what the server
 * answers into frames. A test generator, not an HTTP/2 implementation: nothing here checks what
 * it sends.
 */
import { connect as tcpConnect, type Socket } from 'node:net'
import { connect as tlsConnect, type TLSSocket } from 'node:tls'
import type { TlsMaterial } from '../../transports/contract.js'

/** Frame types (RFC 9113 §6). */
export const FRAME = {
  data: 0x0,
  headers: 0x1,
  priority: 0x2,
  rstStream: 0x3,
  settings: 0x4,
  pushPromise: 0x5,
  ping: 0x6,
  goaway: 0x7,
  windowUpdate: 0x8,
  continuation: 0x9,
} as const

/** Flags (RFC 9113 §6). */
export const FLAG = { endStream: 0x1, ack: 0x1, endHeaders: 0x4, padded: 0x8, priority: 0x20 } as const

/** Error codes (RFC 9113 §7). */
export const H2_ERROR = { noError: 0x0, protocol: 0x1, refusedStream: 0x7, cancel: 0x8, enhanceYourCalm: 0xb } as const

export const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1')

/** One frame; `declaredLength` lets a test lie about the payload's length. */
export function frame (type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0), declaredLength = payload.length): Buffer {
  const header = Buffer.alloc(9)
  header.writeUIntBE(declaredLength & 0xffffff, 0, 3)
  header[3] = type & 0xff
  header[4] = flags & 0xff
  header.writeUInt32BE(streamId >>> 0, 5)
  return Buffer.concat([header, payload])
}

export function settingsFrame (entries: Array<[number, number]> = [], flags = 0): Buffer {
  const payload = Buffer.alloc(entries.length * 6)
  entries.forEach(([id, value], i) => {
    payload.writeUInt16BE(id & 0xffff, i * 6)
    payload.writeUInt32BE(value >>> 0, i * 6 + 2)
  })
  return frame(FRAME.settings, flags, 0, payload)
}

export function u32 (value: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32BE(value >>> 0)
  return b
}

export function rstStream (streamId: number, code: number): Buffer {
  return frame(FRAME.rstStream, 0, streamId, u32(code))
}

export function windowUpdate (streamId: number, increment: number): Buffer {
  return frame(FRAME.windowUpdate, 0, streamId, u32(increment))
}

export function ping (flags = 0, opaque = Buffer.alloc(8)): Buffer {
  return frame(FRAME.ping, flags, 0, opaque)
}

/** An HPACK string literal, no Huffman (RFC 7541 §5.2), lengths below 127. */
function literal (s: string): Buffer {
  const bytes = Buffer.from(s, 'latin1')
  return Buffer.concat([Buffer.from([bytes.length]), bytes])
}

/**
 * A request header block from the static table (RFC 7541 Appendix A): `:method` GET (0x82) or
 * POST (0x83), `:scheme` https (0x87), `:path` / (0x84), then `:authority` as a literal without
 * indexing (0x01: name index 1), so the block is the same on every stream of a session.
 */
export function requestBlock (method: 'GET' | 'POST' = 'GET', authority = 'svc'): Buffer {
  return Buffer.concat([Buffer.from([method === 'GET' ? 0x82 : 0x83, 0x87, 0x84, 0x01]), literal(authority)])
}

/** A CONNECT header block (RFC 9113 §8.5): `:method` CONNECT (a literal, name index 2) and `:authority`. */
export function connectBlock (authority: string): Buffer {
  return Buffer.concat([Buffer.from([0x02]), literal('CONNECT'), Buffer.from([0x01]), literal(authority)])
}

/** HEADERS with a request block and END_HEADERS (and END_STREAM when `end`). */
export function requestHeaders (streamId: number, end = true, method: 'GET' | 'POST' = 'GET'): Buffer {
  return frame(FRAME.headers, FLAG.endHeaders | (end ? FLAG.endStream : 0), streamId, requestBlock(method))
}

export interface ReceivedFrame {
  type: number
  flags: number
  streamId: number
  payload: Buffer
}

/** A connection that speaks raw frames; what the server sends is split into `frames`. */
export interface RawH2 {
  socket: Socket
  frames: ReceivedFrame[]
  /** Writes if the socket is still writable; false once it is not. */
  send: (bytes: Buffer) => boolean
  /** Settles once the socket has closed (never rejects). */
  closed: Promise<void>
  isClosed: () => boolean
  /** The error code of the first GOAWAY the server sent, if any. */
  goawayCode: () => number | undefined
  /** Resolves with the first frame `match` accepts (already received or later), or undefined at `timeoutMs` or close. */
  waitFor: (match: (f: ReceivedFrame) => boolean, timeoutMs: number) => Promise<ReceivedFrame | undefined>
  destroy: () => void
}

export interface RawH2Options {
  /** Send the connection preface and an empty SETTINGS at once (default true). */
  preface?: boolean
  /** Keep every received frame in `frames` (default true; off, only GOAWAY is kept). */
  keepFrames?: boolean
}

/** A TLS 1.3 connection with ALPN h2 and the mesh client certificate to 127.0.0.1:`port`. */
export function meshTlsConnect (port: number, tls: TlsMaterial): TLSSocket {
  return tlsConnect({
    host: '127.0.0.1',
    port,
    ca: tls.ca,
    cert: tls.cert,
    key: tls.key,
    ALPNProtocols: ['h2'],
    // The server's certificate names it by a SPIFFE URI SAN only; the CA check is what counts here.
    checkServerIdentity: () => undefined,
  })
}

/** Connects to the native server on 127.0.0.1:`port` with the client's certificate; resolves after the TLS handshake. */
export async function connectRaw (port: number, tls: TlsMaterial, options: RawH2Options = {}): Promise<RawH2> {
  const socket = meshTlsConnect(port, tls)
  const raw = rawH2(socket, options)
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', resolve)
    socket.once('error', reject)
  })
  if (socket.alpnProtocol !== 'h2') throw new Error(`ALPN: ${String(socket.alpnProtocol)}`)
  if (options.preface !== false) raw.send(Buffer.concat([PREFACE, settingsFrame()]))
  return raw
}

/** h2c: connects to 127.0.0.1:`port` over plain TCP (an app listener); resolves once connected. */
export async function connectPlain (port: number, options: RawH2Options = {}): Promise<RawH2> {
  const socket = tcpConnect(port, '127.0.0.1')
  const raw = rawH2(socket, options)
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', reject)
  })
  if (options.preface !== false) raw.send(Buffer.concat([PREFACE, settingsFrame()]))
  return raw
}

function rawH2 (socket: Socket, options: RawH2Options): RawH2 {
  const frames: ReceivedFrame[] = []
  const keep = options.keepFrames !== false
  const waiters = new Set<{ match: (f: ReceivedFrame) => boolean, done: (f: ReceivedFrame | undefined) => void }>()
  let goaway: number | undefined
  let pending: Buffer = Buffer.alloc(0)
  let closed = false
  socket.on('error', () => {}) // a reset by the server is an outcome here, not a failure
  socket.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk])
    while (pending.length >= 9) {
      const length = pending.readUIntBE(0, 3)
      if (pending.length < 9 + length) break
      const f: ReceivedFrame = {
        type: pending[3] ?? 0,
        flags: pending[4] ?? 0,
        streamId: pending.readUInt32BE(5) & 0x7fffffff,
        payload: pending.subarray(9, 9 + length),
      }
      pending = pending.subarray(9 + length)
      if (f.type === FRAME.goaway && goaway === undefined && f.payload.length >= 8) goaway = f.payload.readUInt32BE(4)
      if (keep || f.type === FRAME.goaway) frames.push(f)
      for (const w of waiters) {
        if (w.match(f)) w.done(f)
      }
    }
  })
  const closedPromise = new Promise<void>((resolve) => socket.once('close', () => {
    closed = true
    for (const w of waiters) w.done(undefined)
    resolve()
  }))
  return {
    socket,
    frames,
    send: (bytes) => {
      if (closed || socket.destroyed || !socket.writable) return false
      socket.write(bytes)
      return true
    },
    closed: closedPromise,
    isClosed: () => closed,
    goawayCode: () => goaway,
    waitFor: async (match, timeoutMs) => {
      const seen = frames.find(match)
      if (seen !== undefined) return seen
      if (closed) return undefined
      return await new Promise((resolve) => {
        const w = {
          match,
          done: (f: ReceivedFrame | undefined) => {
            clearTimeout(timer)
            waiters.delete(w)
            resolve(f)
          },
        }
        const timer = setTimeout(() => w.done(undefined), timeoutMs)
        waiters.add(w)
      })
    },
    destroy: () => socket.destroy(),
  }
}
