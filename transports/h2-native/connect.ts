// Dialing a peer with the native engine: TCP, TLS 1.3 with ALPN h2 and the SPIFFE check, then
// HTTP/2, all inside the addon; the session layer is the one the QUIC binding uses.
import { loadEngine } from '../../native/engine.js'
import { connect as engineConnect, QuicSessionError, type EndpointConstructor } from '../../native/quic.js'
import { MeshError } from '../../core/errors.js'
import type { ConnectOptions, PeerSession, TransportComponents } from '../contract.js'
import type { ResolvedH2Options } from '../h2/options.js'
import { H3PeerSession } from '../h3/client-session.js'
import { resolveHost } from '../h3/connect.js'
import { abortReason } from '../stream-errors.js'
import { engineTuning, sessionLayerOptions } from './engine-options.js'
import { registerNativeSession } from './native-sessions.js'

/** Connects and resolves once the server's SETTINGS arrived (it has accepted our certificate). */
export async function connectNativeH2 (
  options: ConnectOptions,
  config: ResolvedH2Options,
  components: TransportComponents
): Promise<PeerSession> {
  // A session over a given stream (inside a tunnel) is node:tls + node:http2: the engine dials sockets only.
  if (options.over !== undefined) return await (await import('../h2/connect.js')).connectH2(options, config, components)
  const { address, expectedIdentity, signal } = options
  const where = `${address.host}:${address.port} (${expectedIdentity})`
  if (signal?.aborted === true) throw abortReason(signal)
  const { observer } = components
  const attempt = new AbortController()
  const onAbort = (): void => attempt.abort(abortReason(signal))
  signal?.addEventListener('abort', onAbort, { once: true })
  const timer = setTimeout(() => {
    attempt.abort(new MeshError('E_CONNECT_TIMEOUT', `connecting to peer ${where} took longer than ${options.connectTimeoutMs} ms`))
  }, options.connectTimeoutMs)
  try {
    const host = await resolveHost(address.host, where)
    const session = await engineConnect({
      ...options.tls,
      ...engineTuning(config),
      host,
      port: address.port,
      expectedIdentity,
      handshakeTimeoutMs: options.connectTimeoutMs + 1000,
      signal: attempt.signal,
    }, loadEngine().Engine as unknown as EndpointConstructor)
    observer?.handshake?.('h2', 'client', 'ok')
    const peer = new H3PeerSession({
      session,
      remote: { host: address.host, port: address.port },
      options: sessionLayerOptions(config),
      logger: components.logger.child({ transport: 'h2', peer: session.peerIdentity, remote: `${address.host}:${address.port}` }),
      observer,
      transport: 'h2',
    })
    registerNativeSession(peer, { endpoint: session.endpoint, conn: session.conn })
    return peer
  } catch (err) {
    const meshErr = attempt.signal.aborted && attempt.signal.reason instanceof Error
      ? attempt.signal.reason
      : handshakeError(err, where, expectedIdentity)
    observer?.handshake?.('h2', 'client', meshErr instanceof MeshError ? meshErr.code : 'aborted')
    components.logger.debug({ err: meshErr, peer: where }, 'h2 connect failed')
    throw meshErr
  } finally {
    clearTimeout(timer)
    signal?.removeEventListener('abort', onAbort)
  }
}

/** The engine's reason for a failed connect as a MeshError (the same codes as transports/h2). */
function handshakeError (err: unknown, where: string, expected: string): Error {
  if (err instanceof MeshError) return err
  const message = err instanceof Error ? err.message : String(err)
  if (!(err instanceof QuicSessionError)) return new MeshError('E_PEER_UNREACHABLE', `cannot reach peer ${where}: ${message}`, { cause: err })
  const reason = message.replace(/^QUIC handshake with \S+ failed: /, '')
  const identity = /peer identity (\S+) is not the expected/.exec(reason)
  if (identity !== null) return new MeshError('E_PEER_IDENTITY', `peer presented identity ${identity[1] ?? '(none)'}, expected ${expected}`, { cause: err })
  if (/^connect failed/.test(reason)) return new MeshError('E_PEER_UNREACHABLE', `cannot reach peer ${where}: ${reason}`, { cause: err })
  if (/handshake timeout/.test(reason)) return new MeshError('E_CONNECT_TIMEOUT', `TLS handshake with peer ${where} timed out`, { cause: err })
  if (/TLS alert from peer|closed by peer/.test(reason)) {
    return new MeshError('E_PEER_TLS', `peer ${where} refused our client certificate (unknown CA, expired, or no SPIFFE ID): ${reason}`, { cause: err })
  }
  return new MeshError('E_PEER_TLS', `TLS handshake with peer ${where} failed: ${reason}`, { cause: err })
}
