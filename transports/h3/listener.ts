// The h3 listener: accepts QUIC sessions with mutual TLS, learns each caller's SPIFFE ID, dispatches streams.
import { createServer, type QuicServer, type QuicSession } from '../../native/quic.js'
import { MeshError } from '../../core/errors.js'
import type { InboundHandlers, ListenOptions, PeerAddress, TransportComponents, TransportListener } from '../contract.js'
import { bindingTuning, type ResolvedH3Options } from './options.js'
import { serveSession } from './serve-session.js'
import { bufferShortfall } from './udp-buffers.js'

/** A TransportListener that also says what the kernel granted its UDP socket. */
export interface H3Listener extends TransportListener {
  /** SO_RCVBUF / SO_SNDBUF as the kernel reports them, bytes. */
  udpBuffers: () => { recvBytes: number | undefined, sendBytes: number | undefined }
}

/** Binds the UDP port and starts accepting; resolves once bound. */
export async function listenH3 (
  options: ListenOptions,
  handlers: InboundHandlers,
  config: ResolvedH3Options,
  components: TransportComponents
): Promise<H3Listener> {
  const { observer } = components
  const logger = components.logger.child({ transport: 'h3', side: 'server' })
  const sessions = new Set<QuicSession>()

  const onSession = (session: QuicSession): void => serveSession(session, { transport: 'h3', handlers, logger, observer, sessions, splice: config.spliceSockets })

  let server: QuicServer
  try {
    server = await createServer({
      ...options.tls,
      ...bindingTuning(config),
      host: options.host,
      port: options.port,
      maxStreams: config.maxConcurrentStreams,
      requireClientCert: true,
      onSession,
    })
  } catch (err) {
    throw new MeshError('E_CONFIG', `cannot listen on UDP ${options.host}:${options.port}: ${(err as Error).message}`, { cause: err })
  }
  server.on('handshakeError', (err: Error) => {
    observer?.handshake?.('h3', 'server', 'E_PEER_TLS')
    logger.info({ code: 'E_PEER_TLS', reason: err.message }, 'QUIC handshake with a client failed')
  })
  const bound = server.address()
  const address: PeerAddress = { host: bound.host, port: bound.port }
  const shortfall = bufferShortfall(config, { recvBytes: bound.recvBufferSize, sendBytes: bound.sendBufferSize })
  if (shortfall !== undefined) logger.warn({ address, ...shortfall.figures }, shortfall.message)
  logger.info({ address }, 'h3 listener ready')

  let closing: Promise<void> | undefined
  return {
    address: () => ({ ...address }),
    udpBuffers: () => ({ recvBytes: bound.recvBufferSize, sendBytes: bound.sendBufferSize }),
    // RFC 9114 §5.2: GOAWAY lets requests in flight finish while no new ones start.
    close: async () => {
      closing ??= server.close()
      await closing
    },
    setTls: (tls) => server.setCredentials(tls),
    destroy: () => {
      closing ??= Promise.resolve()
      // CONNECTION_CLOSE with H3_INTERNAL_ERROR: the callers must not take this for a clean close.
      for (const session of sessions) session.destroy(new MeshError('E_PEER_RESET', 'listener destroyed'))
      server.destroy()
    },
  }
}
