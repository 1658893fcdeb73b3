// Dialing a peer: TCP, TLS 1.3 with ALPN h2 and the SPIFFE check, then the HTTP/2 session.
import { constants, connect as h2connect, type ClientHttp2Session } from 'node:http2'
import { connect as tlsConnect } from 'node:tls'
import { MeshError } from '../../core/errors.js'
import type { ConnectOptions, PeerSession, TransportComponents } from '../contract.js'
import { H2PeerSession } from './client-session.js'
import { abortReason } from '../stream-errors.js'
import { localSettings, type ResolvedH2Options } from './options.js'
import { ALPN_H2, clientTlsOptions, connectError, identityOf } from './tls.js'

/**
 * Connects to `options.address` and resolves once the peer's SETTINGS arrived, so that a session
 * handed out has passed both sides' certificate checks. The whole of it is bounded by
 * `connectTimeoutMs` (E_CONNECT_TIMEOUT).
 */
export async function connectH2 (
  options: ConnectOptions,
  config: ResolvedH2Options,
  components: TransportComponents
): Promise<PeerSession> {
  const { address, expectedIdentity, signal } = options
  const where = `${address.host}:${address.port} (${expectedIdentity})`
  if (signal?.aborted === true) throw abortReason(signal)

  return await new Promise<PeerSession>((resolve, reject) => {
    // Over a given stream (an inner session in a tunnel) the "TCP" part is already up.
    let tcpUp = options.over !== undefined
    let settled = false
    let session: ClientHttp2Session | undefined

    const socket = options.over !== undefined
      ? tlsConnect({ socket: options.over, ...clientTlsOptions(options.tls, expectedIdentity) })
      : tlsConnect({ host: address.host, port: address.port, ...clientTlsOptions(options.tls, expectedIdentity) })
    if (options.over === undefined) socket.setNoDelay(true)

    const fail = (err: unknown, asIs = false): void => {
      if (settled) return
      settled = true
      cleanup()
      const meshErr = asIs && err instanceof Error ? err : connectError(err, tcpUp, where)
      components.observer?.handshake?.('h2', 'client', meshErr instanceof MeshError ? meshErr.code : 'aborted')
      components.logger.debug({ err: meshErr, peer: where }, 'h2 connect failed')
      session?.destroy()
      socket.destroy()
      reject(meshErr)
    }
    const onAbort = (): void => fail(abortReason(signal), true)
    const timer = setTimeout(() => {
      fail(new MeshError('E_CONNECT_TIMEOUT', `connecting to peer ${where} took longer than ${options.connectTimeoutMs} ms`))
    }, options.connectTimeoutMs)
    const cleanup = (): void => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
    }
    signal?.addEventListener('abort', onAbort, { once: true })

    const onSocketError = (err: Error): void => fail(err)
    const onSessionError = (err: Error): void => fail(err)
    socket.once('connect', () => { tcpUp = true })
    socket.on('error', onSocketError)
    socket.once('secureConnect', () => {
      tcpUp = true
      if (socket.alpnProtocol !== ALPN_H2) {
        fail(new MeshError('E_PEER_TLS', `peer ${where} did not negotiate ALPN ${ALPN_H2} (got ${String(socket.alpnProtocol)})`))
        return
      }
      const peerIdentity = identityOf(socket.getPeerCertificate()) ?? expectedIdentity
      const h2 = h2connect(`https://${address.host}:${address.port}`, {
        createConnection: () => socket,
        settings: localSettings(config),
        maxSessionMemory: 64, // MB; the default 10 is too tight for 16 MiB windows
      })
      session = h2
      h2.on('error', onSessionError)
      // In TLS 1.3 the server checks our certificate after our handshake is done, so a refusal
      // shows up here: the connection closes, or a GOAWAY comes with (or instead of) SETTINGS.
      const onEarlyClose = (): void => fail(new MeshError('E_PEER_TLS', `peer ${where} closed the connection right after the TLS handshake: it refused our client certificate (unknown CA, expired, or no SPIFFE ID)`))
      const onEarlyGoaway = (errorCode: number): void => {
        fail(errorCode === constants.NGHTTP2_INADEQUATE_SECURITY
          ? new MeshError('E_PEER_TLS', `peer ${where} refused our client identity (GOAWAY INADEQUATE_SECURITY)`)
          : new MeshError('E_PEER_REFUSED', `peer ${where} sent GOAWAY (code ${errorCode}) before the session was up`))
      }
      h2.once('close', onEarlyClose)
      h2.once('goaway', onEarlyGoaway)
      // The GOAWAY of a refusal may sit in the same read as the SETTINGS: look once more after it.
      h2.once('remoteSettings', () => setImmediate(() => {
        if (settled) return
        if (h2.closed || h2.destroyed) {
          onEarlyClose()
          return
        }
        settled = true
        cleanup()
        socket.off('error', onSocketError)
        h2.off('error', onSessionError)
        h2.off('close', onEarlyClose)
        h2.off('goaway', onEarlyGoaway)
        // RFC 9113 §6.9.2: the connection window is only ever raised by WINDOW_UPDATE.
        h2.setLocalWindowSize(config.connectionWindowBytes)
        components.observer?.handshake?.('h2', 'client', 'ok')
        resolve(new H2PeerSession({
          session: h2,
          socket,
          peerIdentity,
          remote: { host: address.host, port: address.port },
          options: config,
          logger: components.logger.child({ transport: 'h2', peer: peerIdentity, remote: `${address.host}:${address.port}` }),
          observer: components.observer,
        }))
      }))
    })
  })
}
