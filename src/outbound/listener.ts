/**
 * An outbound listener: accepts app connections on a local address and hands each to the handler
 * of its protocol — fixed by config, or detected from the first bytes. HTTP/1 and h2c are parsed
 * by Node's own servers, fed the already-accepted socket, with the limits that protect them from
 * slow and hostile clients (docs/native-http.md §8): the header-read timeout, max header bytes,
 * max requests per connection and, for h2c, the premature-reset rule (app-h2c-session.ts).
 */
import http from 'node:http'
import type { Http2Server, IncomingHttpHeaders, ServerHttp2Session, ServerHttp2Stream } from 'node:http2'
import net from 'node:net'
import type { Socket } from 'node:net'
import type { Limits, OutboundListenerConfig } from '../config/types.js'
import { detectProtocol, type DetectedProtocol } from '../detect/detect.js'
import { MeshError } from '../../core/errors.js'
import { rawErrorResponse } from '../http/rescue.js'
import type { OutboundContext } from './context.js'
import { handleOutboundRequest, handleOutboundStream } from './http-proxy.js'
import { reportEarlyAnswer } from './early-answer.js'
import { SOCKET_BUFFER_BYTES } from '../tunnel/splice.js'
import { passThrough } from './passthrough.js'
import { handleOutboundTcp } from './tcp-proxy.js'
import { handleOutboundUpgrade } from './upgrade.js'
import { PluginChain } from '../plugins/plugin-chain.js'
import { NativeHttp, type DataPathObserver } from './native-http.js'
import type { HttpFrontOptions } from '../../transports/contract.js'
import { noopPluginObserver, type PluginObserver } from '../plugins/observer.js'
import { guardAppH2cSession } from './app-h2c-session.js'
import { countHttp1Request, headerTimerOptions } from './app-http1-limits.js'

/** node:http's default keep-alive timeout, which the native path keeps too. */
const KEEP_ALIVE_MS = 5_000

export interface OutboundListener {
  readonly config: OutboundListenerConfig
  /** Who serves its HTTP/1: the native engine (dataPlane native, no plugins) or node:http. */
  readonly http1DataPath: 'native' | 'js'
  address: () => { host: string, port: number }
  /** Stops accepting; keep-alive HTTP/1 connections close after their current request, h2c sessions get GOAWAY. */
  close: () => void
  /** Drops every connection (and stops the plugins' VMs). */
  destroy: () => void
  /** Stops the plugins' VMs, once the requests in flight are done. */
  closePlugins: () => Promise<void>
}

export async function startOutboundListener (
  roleCtx: OutboundContext,
  config: OutboundListenerConfig,
  limits: Limits,
  pluginObserver: PluginObserver = noopPluginObserver,
  dataPathObserver?: DataPathObserver
): Promise<OutboundListener> {
  const { maxHeaderBytes, maxRequestsPerConnection } = limits
  const log = roleCtx.logger.child({ listener: config.name })
  // A listener with plugins gets a context of its own that carries them; one without keeps the
  // role's, and its exchanges never take a listener plugin step. The own context inherits from
  // the role's (not a copy of it), so a reload's new policy reaches this listener too.
  const plugins = config.plugins !== undefined && config.plugins.length > 0
    ? await PluginChain.load(config.plugins, { logger: log, observer: pluginObserver })
    : undefined
  const ctx: OutboundContext = plugins === undefined ? roleCtx : Object.assign(Object.create(roleCtx) as OutboundContext, { plugins, listenerName: config.name })
  const sockets = new Set<Socket>()
  const track = (socket: Socket): void => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    socket.on('error', (err) => log.debug({ err: err.message }, 'app connection error'))
  }
  const h2Sessions = new Set<ServerHttp2Session>()

  const headerReadMs = ctx.timeouts.headerReadMs
  const http1 = http.createServer({ maxHeaderSize: maxHeaderBytes, requestTimeout: 0, ...headerTimerOptions(headerReadMs) }, maxRequestsPerConnection === undefined
    ? (req, res) => handleOutboundRequest(ctx, req, res)
    : (req, res) => {
        countHttp1Request(req, res, maxRequestsPerConnection, ctx.appClients)
        handleOutboundRequest(ctx, req, res)
      })
  // node answers pipelined requests past the limit with a bare 503 (before our handler runs) and
  // marks the last response `connection: close`; countHttp1Request() makes it really close.
  if (maxRequestsPerConnection !== undefined) http1.maxRequestsPerSocket = maxRequestsPerConnection
  // node:http checks headersTimeout (and tracks connections for closeIdleConnections()) only once
  // the server emitted 'listening'; this one never listens (it is fed accepted sockets), so it is
  // told it does.
  http1.emit('listening')
  http1.on('upgrade', (req, socket: Socket, head: Buffer) => handleOutboundUpgrade(ctx, req, socket, head))
  http1.on('connect', (req, socket: Socket) => {
    const meshErr = new MeshError('E_BAD_REQUEST', 'CONNECT is not served on an outbound listener; use a tcp listener')
    reportEarlyAnswer(ctx, meshErr, { method: 'CONNECT', path: req.url })
    socket.end(rawErrorResponse(meshErr, 'Bad Request'))
  })
  http1.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    const answer = clientErrorAnswer(err, maxHeaderBytes, headerReadMs)
    if (answer.error.code === 'E_HEADER_TIMEOUT') {
      // A slow client, not a malformed request: counted, logged at debug only (a slowloris run
      // would otherwise be one warn line per connection).
      ctx.appClients?.sessionClosed('header_timeout')
      log.debug({ code: answer.error.code, remote: socket.remoteAddress }, 'HTTP/1 request head not complete in time')
    } else {
      log.warn({ code: answer.error.code, err: err.message }, 'bad HTTP/1 request')
    }
    // As node's own answer does: only when no response of this connection has started, else the
    // bytes would land inside it; not to a client that reset the connection.
    if (socket.writable && err.code !== 'ECONNRESET' && !responseStarted(socket)) {
      reportEarlyAnswer(ctx, answer.error)
      socket.end(rawErrorResponse(answer.error, answer.reason))
    } else socket.destroy()
  })
  // node:http2's server for the h2c connections the engine does not take, made on first use: on
  // the native data plane node:http2 (and node:tls under it) is then never loaded (~0.5 MB of RSS).
  const h2cRules = { maxStreams: maxRequestsPerConnection, logger: log, observer: ctx.appClients }
  let h2cServer: Promise<Http2Server> | undefined
  const h2c = async (): Promise<Http2Server> => await (h2cServer ??= import('node:http2').then((http2) => {
    // The stream API, not the compatibility one (see http-proxy.ts).
    const server = http2.createServer({ maxHeaderListPairs: 256, maxSessionMemory: 64, settings: { maxHeaderListSize: maxHeaderBytes } })
    server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
      // Reset by the client in the same read as its HEADERS: nothing to do but count it.
      if (stream.destroyed) ctx.appClients?.streamReset()
      else handleOutboundStream(ctx, stream, headers)
    })
    server.on('session', (session) => {
      guardAppH2cSession(session, h2cRules)
      h2Sessions.add(session)
      session.once('close', () => h2Sessions.delete(session))
    })
    server.on('sessionError', (err) => log.debug({ code: 'E_BAD_REQUEST', err: err.message }, 'h2c session error'))
    return server
  }))
  const toNodeHttp2 = (socket: Socket): void => {
    h2c().then((server) => {
      if (socket.destroyed) return
      server.emit('connection', socket)
      socket.resume()
    }, (err: unknown) => {
      log.error({ code: 'E_INTERNAL', err: (err as Error).message }, 'cannot load node:http2 for an h2c connection')
      socket.destroy()
    })
  }

  // HTTP/1 and h2c through the native engine when the h2 transport has one (dataPlane native) and
  // the listener has no plugins (their host is JS); handed-back connections go to node:http, and
  // h2c goes to node:http2 when the config may need the JS path for a stream (h2cNative()).
  const toNodeHttp = (socket: Socket): void => { http1.emit('connection', socket); socket.resume() }
  const native = nativeHttpFor(ctx, plugins === undefined, { maxHeaderBytes, headerReadMs, keepAliveMs: KEEP_ALIVE_MS, maxRequestsPerConnection }, dataPathObserver, (socket, bytes) => {
    track(socket)
    socket.unshift(bytes)
    toNodeHttp(socket)
  })
  // A listener whose h2c always goes to node:http2 (the JS data plane, plugins) loads it now.
  if ((config.protocol === 'auto' || config.protocol === 'http2') && native?.h2cNative() !== true) await h2c()
  const dispatch = (socket: Socket, protocol: DetectedProtocol, tcpService = config.tcpService): void => {
    switch (protocol) {
      // Node's servers take an accepted socket; resume it so they read what detection put back.
      case 'http1':
        if (native !== undefined) native.adopt(socket, 'http1')
        else toNodeHttp(socket)
        break
      case 'http2':
        if (native?.h2cNative() === true) native.adopt(socket, 'http2')
        else toNodeHttp2(socket)
        break
      case 'tls':
      case 'tcp': handleOutboundTcp(ctx, socket, tcpService); break
    }
  }

  // Transparent listener: where was the app going? A service's address routes there (opaque TCP
  // to that service, HTTP by its Host as always); anything else passes through untouched.
  const readOriginal = config.originalDestination === true ? ctx.originalDestination : undefined
  const accept = (socket: Socket): void => {
    let tcpService = config.tcpService
    if (readOriginal !== undefined) {
      let original
      try {
        original = readOriginal(socket)
      } catch (err) {
        log.warn({ code: 'E_ORIGINAL_DST', err: (err as Error).message }, 'cannot read the original destination; routing as a direct connection')
      }
      const own = socket.localPort
      if (original !== undefined && !(original.port === own && original.host === socket.localAddress)) {
        const service = ctx.serviceByAddress?.(original.host, original.port)
        if (service === undefined) {
          passThrough(ctx, socket, original.host, original.port)
          return
        }
        tcpService = service
      }
    }
    if (config.protocol === 'auto') {
      detectProtocol(socket, ctx.timeouts.detectMs).then((p) => dispatch(socket, p, tcpService), () => socket.destroy())
    } else {
      dispatch(socket, config.protocol === 'tcp' ? 'tcp' : config.protocol, tcpService)
    }
  }

  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true, highWaterMark: SOCKET_BUFFER_BYTES }, (socket) => {
    track(socket)
    accept(socket)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => { plugins?.close().catch(() => {}); reject(new MeshError('E_CONFIG', `outbound listener "${config.name}" cannot listen on ${config.host}:${config.port}: ${err.code ?? err.message}`, { cause: err })) })
    server.listen(config.port, config.host, () => resolve())
  })
  server.on('error', (err) => log.error({ err: err.message }, 'listener error'))
  log.info({ host: config.host, port: addressOf(server).port, protocol: config.protocol, plugins: plugins?.names, http1: native === undefined ? 'js' : 'native' }, 'outbound listener ready')

  return {
    config,
    http1DataPath: native === undefined ? 'js' : 'native',
    address: () => addressOf(server),
    close: () => {
      native?.drain()
      // Once the last connection is gone, node:http's connection-check interval stops too.
      server.close(() => http1.close())
      http1.closeIdleConnections()
      for (const session of h2Sessions) session.close()
    },
    destroy: () => {
      server.close()
      native?.close()
      http1.close()
      for (const socket of sockets) socket.destroy()
      plugins?.close().catch(() => {})
    },
    closePlugins: async () => { await plugins?.close() },
  }
}

/** The native HTTP path (HTTP/1 and h2c) of a listener, or undefined when the h2 transport has no engine front or plugins need JS. */
function nativeHttpFor (ctx: OutboundContext, eligible: boolean, front: HttpFrontOptions, observer: DataPathObserver | undefined, handBack: (socket: Socket, bytes: Buffer) => void): NativeHttp | undefined {
  if (!eligible || !ctx.transports.has('h2')) return undefined
  const transport = ctx.transports.get('h2')
  const httpFront = transport.httpFront
  if (httpFront === undefined) return undefined
  return new NativeHttp(ctx, {
    front: (handlers) => httpFront(front, handlers),
    handBack,
    observer,
  })
}

/** The answer to an HTTP/1 client error node:http reports: status line reason and the error. */
function clientErrorAnswer (err: NodeJS.ErrnoException, maxHeaderBytes: number, headerReadMs: number): { error: MeshError, reason: string } {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return { error: new MeshError('E_HEADERS_TOO_LARGE', `request head larger than ${maxHeaderBytes} bytes`), reason: 'Request Header Fields Too Large' }
    // headersTimeout (headerTimerOptions()): the head was not complete in time.
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return { error: new MeshError('E_HEADER_TIMEOUT', `request head not complete within ${headerReadMs} ms`), reason: 'Request Timeout' }
    default:
      return { error: new MeshError('E_BAD_REQUEST', `malformed HTTP/1 request (${err.code ?? err.message})`), reason: 'Bad Request' }
  }
}

/** True once node:http started writing a response on this connection (its own check, `_httpMessage`). */
function responseStarted (socket: Socket): boolean {
  const current = (socket as Socket & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage
  return current?.headersSent === true
}

function addressOf (server: net.Server): { host: string, port: number } {
  const address = server.address()
  if (address === null || typeof address === 'string') return { host: '', port: 0 }
  return { host: address.address, port: address.port }
}
