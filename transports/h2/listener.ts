// The h2 listener: accepts mutual-TLS sessions, learns each caller's SPIFFE ID, dispatches streams.
import { constants, createSecureServer, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2'
import type { AddressInfo, Socket } from 'node:net'
import type { TLSSocket } from 'node:tls'
import { MeshError, toMeshError } from '../../core/errors.js'
import type { InboundHandlers, ListenOptions, PeerAddress, TransportComponents, TransportListener } from '../contract.js'
import { startKeepAlive } from './keepalive.js'
import { localSettings, type ResolvedH2Options } from './options.js'
import { H2InboundExchange, H2InboundTunnel } from './server-exchange.js'
import { chainOf, identityOf, serverTlsOptions, type PeerCaller } from './tls.js'

const { NGHTTP2_REFUSED_STREAM, NGHTTP2_INADEQUATE_SECURITY } = constants

/** Starts listening; resolves once the port is bound. */
export async function listenH2 (
  options: ListenOptions,
  handlers: InboundHandlers,
  config: ResolvedH2Options,
  components: TransportComponents
): Promise<TransportListener> {
  const { observer } = components
  const logger = components.logger.child({ transport: 'h2', side: 'server' })
  const server = createSecureServer({
    ...serverTlsOptions(options.tls),
    allowHTTP1: false,
    // A client stuck mid-handshake must not hold close() for node's default 120 s.
    handshakeTimeout: 10_000, // 10 s
    // RFC 8441 §3: SETTINGS_ENABLE_CONNECT_PROTOCOL lets peers send extended CONNECT.
    settings: { ...localSettings(config), enableConnectProtocol: true },
    maxSessionMemory: 64, // MB; the default 10 is too tight for 16 MiB windows
  })
  const sessions = new Set<ServerHttp2Session>()
  const sockets = new Set<Socket>()
  const callers = new WeakMap<ServerHttp2Session, PeerCaller>()
  let closing: Promise<void> | undefined

  server.on('connection', (socket: Socket) => {
    // Small frames (a response head, a WINDOW_UPDATE) must not wait for Nagle + delayed ACK (~40 ms).
    socket.setNoDelay(true)
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  })
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
    observer?.handshake?.('h2', 'server', 'E_PEER_TLS')
    // A refused client certificate shows only as the socket's authorizationError (the error is a hang-up).
    const reason = socket.authorizationError ?? err.code ?? err.message
    logger.info({ code: 'E_PEER_TLS', reason: String(reason) }, 'TLS handshake with a client failed')
  })
  server.on('session', (session: ServerHttp2Session) => {
    const socket = session.socket as TLSSocket
    const peerCert = socket.getPeerCertificate(true)
    const caller = identityOf(peerCert)
    const remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`
    if (caller === undefined) {
      observer?.handshake?.('h2', 'server', 'E_PEER_IDENTITY')
      logger.warn({ code: 'E_PEER_IDENTITY', remote }, 'client certificate has no SPIFFE URI SAN; session refused')
      session.on('error', () => {}) // destroy(err) emits it again; it is logged above
      // GOAWAY INADEQUATE_SECURITY (RFC 9113 §7): the client's certificate does not identify it.
      session.destroy(new MeshError('E_PEER_IDENTITY', 'client certificate has no SPIFFE URI SAN'), NGHTTP2_INADEQUATE_SECURITY)
      return
    }
    observer?.handshake?.('h2', 'server', 'ok')
    observer?.sessionOpened?.('h2', 'server')
    callers.set(session, { identity: caller, certificates: chainOf(peerCert) })
    sessions.add(session)
    const sessionLogger = logger.child({ caller, remote })
    session.on('error', (err) => sessionLogger.debug({ err }, 'h2 session error'))
    session.once('close', () => {
      sessions.delete(session)
      observer?.sessionClosed?.('h2', 'server')
    })
    // RFC 9113 §6.9.2: raise the connection window with WINDOW_UPDATE.
    session.setLocalWindowSize(config.connectionWindowBytes)
    startKeepAlive(session, {
      intervalMs: config.keepAliveMs,
      timeoutMs: config.keepAliveTimeoutMs,
      onRtt: () => {},
      onDead: (err) => {
        sessionLogger.warn({ code: err.code }, err.message)
        session.destroy()
      },
    })
    if (closing !== undefined) session.close()
  })
  server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
    const peer = callers.get(stream.session as ServerHttp2Session)
    if (peer === undefined) {
      stream.close(NGHTTP2_REFUSED_STREAM)
      return
    }
    // The exchange counts the stream for the observer and logs its errors (with the caller).
    const caller = peer.identity
    const inbound = headers[constants.HTTP2_HEADER_METHOD] === 'CONNECT'
      ? new H2InboundTunnel(stream, headers, peer, logger, observer)
      : new H2InboundExchange(stream, headers, peer, logger, observer)
    try {
      if (inbound instanceof H2InboundTunnel) handlers.tunnel(inbound)
      else handlers.request(inbound)
    } catch (err) {
      logger.error({ err, caller }, 'inbound handler threw')
      inbound.reject(toMeshError(err))
    }
  })
  server.on('error', (err) => logger.error({ err }, 'h2 listener error'))

  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      reject(new MeshError('E_CONFIG', `cannot listen on ${options.host}:${options.port}: ${err.message}`, { cause: err }))
    }
    server.once('error', onError)
    server.listen(options.port, options.host, () => {
      server.off('error', onError)
      resolve()
    })
  })
  const bound = server.address() as AddressInfo
  const address: PeerAddress = { host: bound.address, port: bound.port }
  logger.info({ address }, 'h2 listener ready')

  return {
    address: () => ({ ...address }),
    close: async () => {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve())
        // RFC 9113 §6.8: GOAWAY lets streams in flight finish while no new ones start.
        for (const session of sessions) session.close()
      })
      await closing
    },
    setTls: (tls) => {
      // Node keeps the old SecureContext alive for the TLS sockets made with it.
      server.setSecureContext(serverTlsOptions(tls))
    },
    destroy: () => {
      closing ??= new Promise<void>((resolve) => server.close(() => resolve()))
      for (const session of sessions) session.destroy()
      for (const socket of sockets) socket.destroy()
    },
  }
}
