// The native h2 listener: the engine accepts TCP, runs TLS 1.3 with mutual authentication and
// HTTP/2; each stream reaches the core through the session layer the QUIC binding uses.
import { loadEngine } from '../../native/engine.js'
import { createServer, type EndpointConstructor, type QuicServer, type QuicSession } from '../../native/quic.js'
import { MeshError } from '../../core/errors.js'
import type { InboundHandlers, ListenOptions, PeerAddress, TransportComponents, TransportListener } from '../contract.js'
import type { ResolvedH2Options } from '../h2/options.js'
import { serveSession } from '../h3/serve-session.js'
import { engineTuning } from './engine-options.js'

/** Binds the TCP port and starts accepting; resolves once bound. */
export async function listenNativeH2 (
  options: ListenOptions,
  handlers: InboundHandlers,
  config: ResolvedH2Options,
  components: TransportComponents
): Promise<TransportListener> {
  const { observer } = components
  const logger = components.logger.child({ transport: 'h2', side: 'server', dataPlane: 'native' })
  const sessions = new Set<QuicSession>()

  const onSession = (session: QuicSession): void => serveSession(session, {
    transport: 'h2',
    handlers,
    logger,
    observer,
    sessions,
    onError: (err, sessionLogger) => {
      // The engine closed the session with GOAWAY(ENHANCE_YOUR_CALM): one line, one code.
      if (/^premature resets|^flood/.test(err.message)) {
        sessionLogger.warn({ code: /^premature/.test(err.message) ? 'E_PEER_RAPID_RESET' : 'E_PEER_FLOOD', reason: err.message }, 'peer session closed with GOAWAY(ENHANCE_YOUR_CALM)')
      } else {
        sessionLogger.debug({ err }, 'h2 session ended with an error')
      }
    },
  })

  let server: QuicServer
  try {
    server = await createServer({
      ...options.tls,
      ...engineTuning(config),
      host: options.host,
      port: options.port,
      requireClientCert: true,
      onSession,
    }, loadEngine().Engine as unknown as EndpointConstructor)
  } catch (err) {
    // A socket error (EADDRINUSE, EACCES…) keeps its code, as node:net's listen error does on the JS path.
    const message = (err as Error).message
    const code = /: (E[A-Z]+) \(/.exec(message)?.[1]
    if (code !== undefined) throw Object.assign(new Error(`listen ${options.host}:${options.port}: ${message.replace(/^listen \S+: /, '')}`), { code })
    throw new MeshError('E_CONFIG', `cannot listen on TCP ${options.host}:${options.port}: ${message}`, { cause: err })
  }
  server.on('handshakeError', (err: Error) => {
    observer?.handshake?.('h2', 'server', 'E_PEER_TLS')
    logger.info({ code: 'E_PEER_TLS', reason: err.message }, 'TLS handshake with a client failed')
  })
  const bound = server.address()
  const address: PeerAddress = { host: bound.host, port: bound.port }
  logger.info({ address }, 'h2 listener ready (native engine)')
  let closing: Promise<void> | undefined
  return {
    address: () => ({ ...address }),
    close: async () => {
      closing ??= server.close()
      await closing
    },
    setTls: (tls) => server.setCredentials(tls),
    clearDeliveryGrants: () => server.clearTargets(),
    destroy: () => {
      closing ??= Promise.resolve()
      for (const session of sessions) session.destroy(new MeshError('E_PEER_RESET', 'listener destroyed'))
      server.destroy()
    },
  }
}
