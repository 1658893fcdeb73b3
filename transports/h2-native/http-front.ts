// The native HTTP front (transports/contract.ts HttpFront) over the engine's AppHost
// (native/engine/src/app-http1.h, app-h2c.h): app connections parsed by llhttp (HTTP/1) or served
// by an nghttp2 server session (h2c) in the addon, request bodies and responses moved between the
// app socket and a native peer stream with no JS per chunk.
import net, { type Socket } from 'node:net'
import { APP_DONE_FLAG, APP_EVENT, APP_H2C_CLOSE, APP_HEAD_FLAG, loadEngine, type RawAppHost } from '../../native/engine.js'
import { MeshError } from '../../core/errors.js'
import type { H2cCloseReason, HttpForwardResult, HttpFront, HttpFrontHandlers, HttpFrontOptions, PeerSession, TransportObserver } from '../contract.js'
import { nativeSessionOf } from './native-sessions.js'

/** The file descriptor under a net.Socket (POSIX). */
function socketFd (socket: Socket): number {
  const handle = (socket as unknown as { _handle?: { fd?: number } | null })._handle
  const fd = handle?.fd
  if (typeof fd !== 'number' || fd < 0) throw new MeshError('E_INTERNAL', 'the app socket has no file descriptor to hand to the native engine')
  return fd
}

const CLOSE_REASONS = new Map<number, H2cCloseReason>([
  [APP_H2C_CLOSE.rapidReset, 'rapid_reset'],
  [APP_H2C_CLOSE.maxRequests, 'max_requests'],
  [APP_H2C_CLOSE.protocol, 'protocol'],
  [APP_H2C_CLOSE.headerTimeout, 'header_timeout'],
  [APP_H2C_CLOSE.flood, 'flood'],
])

/** What the socket buffered (detection's bytes), read out before the socket is destroyed. */
function bufferedBytes (socket: Socket): Buffer | null {
  const early: Buffer[] = []
  for (let chunk = socket.read() as Buffer | null; chunk !== null; chunk = socket.read() as Buffer | null) early.push(chunk)
  return early.length === 0 ? null : Buffer.concat(early)
}

/** The native front; its peer streams count in the transport's stream metrics like JS-opened ones. */
export function createHttpFront (options: HttpFrontOptions, handlers: HttpFrontHandlers, observer?: TransportObserver): HttpFront {
  const host: RawAppHost = new (loadEngine().AppHost)({
    maxHeaderBytes: options.maxHeaderBytes,
    headerReadMs: options.headerReadMs,
    keepAliveMs: options.keepAliveMs,
    maxRequestsPerConnection: options.maxRequestsPerConnection ?? 0,
  }, (nums, text) => {
    let at = 0
    for (let i = 0; i < nums.length;) {
      const kind = nums[i] as number
      const conn = nums[i + 1] as number
      const stream = nums[i + 2] as number
      const code = nums[i + 3] as number
      const flag = nums[i + 4] as number
      const count = nums[i + 5] as number
      i += 6
      const strings: string[] = new Array<string>(count)
      for (let k = 0; k < count; k++) {
        const end = at + (nums[i + k] as number)
        strings[k] = text.slice(at, end)
        at = end
      }
      i += count
      const numbers = nums[i] as number
      const first = i + 1
      i = first + numbers
      dispatch(kind, conn, stream, code, flag, strings, nums, first)
    }
  })

  function dispatch (kind: number, conn: number, stream: number, code: number, flag: number, strings: string[], nums: Float64Array, at: number): void {
    switch (kind) {
      case APP_EVENT.head:
        handlers.head(conn, {
          stream: (flag & APP_HEAD_FLAG.h2c) !== 0 ? stream : 0,
          method: strings[0] ?? '',
          target: strings[1] ?? '',
          version: strings[2] ?? '1.1',
          headers: strings.slice(3),
          keepAlive: (flag & APP_HEAD_FLAG.keepAlive) !== 0,
          upgrade: (flag & APP_HEAD_FLAG.upgrade) !== 0,
          hasBody: (flag & APP_HEAD_FLAG.hasBody) !== 0,
        })
        break
      case APP_EVENT.done: {
        if (stream !== 0) observer?.streamClosed?.('h2', 'client')
        const [failure = '', peerError = '', message = ''] = strings
        handlers.record(conn, {
          token: stream,
          status: code,
          failure: failure === '' ? undefined : failure,
          failureMessage: message,
          peerError: peerError === '' ? undefined : peerError,
          requestBytes: nums[at] ?? 0,
          responseBytes: nums[at + 1] ?? 0,
          headMs: nums[at + 2] ?? 0,
          totalMs: nums[at + 3] ?? 0,
          headSent: (flag & APP_DONE_FLAG.headSent) !== 0,
          clientGone: (flag & APP_DONE_FLAG.clientGone) !== 0,
          clientReset: (flag & APP_DONE_FLAG.clientReset) !== 0,
        })
        break
      }
      case APP_EVENT.refused:
        observer?.streamClosed?.('h2', 'client')
        handlers.refused?.(conn, stream)
        break
      case APP_EVENT.closed:
        handlers.closed(conn)
        break
      case APP_EVENT.streamGone:
        handlers.h2c?.streamGone(conn, stream)
        break
      case APP_EVENT.h2cClosed:
        handlers.h2c?.sessionClosed(conn, CLOSE_REASONS.get(code) ?? 'protocol', strings[0] ?? '')
        break
      case APP_EVENT.h2cResets:
        handlers.h2c?.resets(conn, code)
        break
    }
  }

  return {
    adopt: (socket, protocol) => {
      // What the socket buffered (detection's bytes) goes first; then the socket is closed at
      // once, before it reads anything more: the engine reads a descriptor of its own.
      const early = bufferedBytes(socket)
      try {
        const fd = socketFd(socket)
        return protocol === 'http2' ? host.adoptH2c(fd, early) : host.adopt(fd, early)
      } finally {
        socket.destroy()
      }
    },
    forward: (conn, session: PeerSession, fields, { requestMs, idleMs, token, stream }): HttpForwardResult => {
      const ref = nativeSessionOf(session)
      if (ref === undefined) return 'not-native'
      // One string crosses instead of one per name and value; the engine checks the count.
      const joined = fields.join('\0')
      const rv = stream === 0
        ? host.forward(conn, ref.endpoint, ref.conn, joined, fields.length, requestMs, idleMs, token)
        : host.forwardStream(conn, stream, ref.endpoint, ref.conn, joined, fields.length, requestMs, idleMs, token)
      if (rv === 0) observer?.streamOpened?.('h2', 'client')
      return rv === 0 ? 'sent' : rv === 1 ? 'gone' : rv === 3 ? 'bad-fields' : 'not-native'
    },
    answer: (conn, bytes, close) => host.answer(conn, bytes, close),
    answerStream: (conn, stream, status, code, message) => { host.answerStream(conn, stream, status, code, message) },
    refuse: (conn, stream) => { host.refuseStream(conn, stream) },
    handBack: (conn) => {
      const back = host.handBack(conn)
      if (back === null) return undefined
      const socket = new net.Socket({ fd: back.fd, allowHalfOpen: true, readable: true, writable: true })
      socket.setNoDelay(true)
      return { socket, bytes: back.bytes }
    },
    drain: () => host.drain(),
    close: () => host.close(),
  }
}
