// The server side of one session of the QUIC-shaped binding (the QUIC addon, or the native h2
// engine): the caller's SPIFFE check, observer hooks, and each stream handed to the core as an
// InboundExchange or an InboundTunnel.
import type { QuicHeaders, QuicSession, QuicStream } from '../../native/quic.js'
import { MeshError, toMeshError } from '../../core/errors.js'
import type { InboundHandlers, TransportLogger, TransportObserver } from '../contract.js'
import { H3InboundExchange, H3InboundTunnel } from './server-exchange.js'
import { serveDelivery } from './delivery.js'

export interface ServeSessionOptions {
  transport: 'h3' | 'h2'
  handlers: InboundHandlers
  logger: TransportLogger
  observer: TransportObserver | undefined
  /** The listener's open sessions: the session is in it until it closes. */
  sessions: Set<QuicSession>
  /** Whether CONNECT tunnels may be spliced natively when the binding can (default true). */
  splice?: boolean
  /** How a session that ended with an error is logged (default: debug). */
  onError?: (err: Error, logger: TransportLogger) => void
}

/** Serves `session`'s streams; refuses it at once when the caller has no SPIFFE ID. */
export function serveSession (session: QuicSession, options: ServeSessionOptions): void {
  const { transport, handlers, observer, sessions } = options
  const caller = session.peerIdentity
  if (!caller.startsWith('spiffe://')) {
    observer?.handshake?.(transport, 'server', 'E_PEER_IDENTITY')
    options.logger.warn({ code: 'E_PEER_IDENTITY' }, 'client certificate has no SPIFFE URI SAN; session refused')
    session.destroy(new MeshError('E_PEER_IDENTITY', 'client certificate has no SPIFFE URI SAN'))
    return
  }
  observer?.handshake?.(transport, 'server', 'ok')
  observer?.sessionOpened?.(transport, 'server')
  sessions.add(session)
  const sessionLogger = options.logger.child({ caller })
  session.once('close', (err?: Error) => {
    sessions.delete(session)
    observer?.sessionClosed?.(transport, 'server')
    if (err === undefined) return
    if (options.onError !== undefined) options.onError(err, sessionLogger)
    else sessionLogger.debug({ err }, `${transport} session ended with an error`)
  })
  const askDelivery = serveDelivery(session, handlers.delivery, transport, observer)
  session.on('stream', (stream: QuicStream, fields: QuicHeaders | undefined) => {
    observer?.streamOpened?.(transport, 'server')
    stream.once('close', () => observer?.streamClosed?.(transport, 'server'))
    const head = fields ?? {}
    const inbound = head[':method'] === 'CONNECT'
      ? new H3InboundTunnel(stream, head, caller, sessionLogger, options.splice ?? true)
      : new H3InboundExchange(stream, head, caller, sessionLogger)
    try {
      if (inbound instanceof H3InboundTunnel) handlers.tunnel(inbound)
      else {
        handlers.request(inbound)
        askDelivery?.(head)
      }
    } catch (err) {
      sessionLogger.error({ err }, 'inbound handler threw')
      inbound.reject(toMeshError(err))
    }
  })
}
