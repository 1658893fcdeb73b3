/**
 * Protocol detection on a freshly accepted socket: read the first bytes (bounded in size and
 * time), decide, and put the bytes back so the chosen handler reads the stream from its start.
 *   HTTP/2 connection preface (RFC 9113 §3.4) → `http2` (h2c with prior knowledge)
 *   an HTTP/1 method token and a space           → `http1` (the parser answers malformed lines)
 *   a TLS handshake record (RFC 8446 §5.1)       → `tls` (opaque)
 *   anything else, or silence past the timeout   → `tcp` (server-speaks-first protocols)
 */
import type { Socket } from 'node:net'

export type DetectedProtocol = 'http1' | 'http2' | 'tls' | 'tcp'

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1')
const HTTP1_METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE']
  .map((m) => Buffer.from(`${m} `, 'latin1'))
/** The longest prefix we may need before deciding: the h2 preface. */
const DECIDE_BYTES = H2_PREFACE.length
const TLS_HANDSHAKE = 0x16

/** Classifies a buffer, or returns undefined when more bytes are needed to tell. */
export function classify (head: Buffer): DetectedProtocol | undefined {
  if (head.length === 0) return undefined
  if (startsLike(head, H2_PREFACE)) return head.length >= H2_PREFACE.length ? 'http2' : undefined
  if (head[0] === TLS_HANDSHAKE) return 'tls'
  let undecided = false
  for (const method of HTTP1_METHODS) {
    if (startsLike(head, method)) {
      if (head.length >= method.length) return 'http1'
      undecided = true
    }
  }
  if (undecided && head.length < DECIDE_BYTES) return undefined
  return 'tcp'
}

/** True if `head` and `prefix` agree over their common length. */
function startsLike (head: Buffer, prefix: Buffer): boolean {
  const n = Math.min(head.length, prefix.length)
  return head.compare(prefix, 0, n, 0, n) === 0
}

/**
 * Reads from `socket` until the protocol is known or `timeoutMs` passes, then unshifts what was
 * read and resolves. The socket is left paused. Resolves `tcp` if the socket ends or errors first
 * (the caller will find it closed).
 */
export async function detectProtocol (socket: Socket, timeoutMs: number): Promise<DetectedProtocol> {
  return await new Promise((resolve) => {
    let head: Buffer = Buffer.alloc(0)
    const finish = (protocol: DetectedProtocol): void => {
      clearTimeout(timer)
      socket.off('data', onData)
      socket.off('end', onEnd)
      socket.off('error', onEnd)
      socket.pause()
      if (head.length > 0) socket.unshift(head)
      resolve(protocol)
    }
    const onData = (chunk: Buffer): void => {
      head = head.length === 0 ? chunk : Buffer.concat([head, chunk])
      const protocol = classify(head)
      if (protocol !== undefined) finish(protocol)
    }
    const onEnd = (): void => finish(classify(head) ?? 'tcp')
    const timer = setTimeout(() => finish(classify(head) ?? 'tcp'), timeoutMs)
    socket.on('data', onData)
    socket.once('end', onEnd)
    socket.once('error', onEnd)
    socket.resume()
  })
}
