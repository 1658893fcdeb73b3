// Dialing a peer over QUIC: UDP, the TLS 1.3 handshake with ALPN h3 and the SPIFFE check, then HTTP/3.
import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import { connect as quicConnect, QuicSessionError, type QuicSession } from '../../native/quic.js'
import { MeshError } from '../../core/errors.js'
import type { ConnectOptions, PeerSession, TransportComponents } from '../contract.js'
import { H3PeerSession } from './client-session.js'
import { abortReason } from '../stream-errors.js'
import { bindingTuning, type ResolvedH3Options } from './options.js'
import { probeUdpPort } from './udp-probe.js'

/** The handshake bound handed to the binding, past our own timer: a backstop only, ms. */
const BINDING_TIMEOUT_SLACK_MS = 1000

/**
 * Connects to `options.address` and resolves once the handshake is confirmed (HANDSHAKE_DONE,
 * RFC 9001 §4.1.2), i.e. once the server has accepted our certificate too. The whole of it is
 * bounded by `connectTimeoutMs` (E_CONNECT_TIMEOUT); a closed UDP port is E_PEER_UNREACHABLE
 * as soon as the kernel reports it.
 */
export async function connectH3 (
  options: ConnectOptions,
  config: ResolvedH3Options,
  components: TransportComponents
): Promise<PeerSession> {
  const { address, expectedIdentity, signal } = options
  const where = `${address.host}:${address.port} (${expectedIdentity})`
  if (options.over !== undefined) throw new MeshError('E_TRANSPORT_UNAVAILABLE', `h3 cannot run a session over a stream (peer ${where}); inner sessions use h2`)
  if (signal?.aborted === true) throw abortReason(signal)
  const { observer } = components

  const attempt = new AbortController()
  let settled = false
  let stopProbe = (): void => {}
  let timer: NodeJS.Timeout | undefined
  let rejectEarly: (err: Error) => void = () => {}
  const early = new Promise<never>((_resolve, reject) => { rejectEarly = reject })
  early.catch(() => {})
  const fail = (err: Error): void => {
    if (settled) return
    settled = true
    attempt.abort(err)
    rejectEarly(err)
  }
  const onAbort = (): void => fail(abortReason(signal))
  signal?.addEventListener('abort', onAbort, { once: true })
  timer = setTimeout(() => {
    fail(new MeshError('E_CONNECT_TIMEOUT', `connecting to peer ${where} over QUIC took longer than ${options.connectTimeoutMs} ms`))
  }, options.connectTimeoutMs)

  try {
    const host = await Promise.race([resolveHost(address.host, where), early])
    stopProbe = probeUdpPort(host, address.port, (err) => {
      fail(new MeshError('E_PEER_UNREACHABLE', `cannot reach peer ${where} over UDP: ${err.message} (nothing listens on that UDP port)`, { cause: err }))
    })
    const dialing = quicConnect({
      ...options.tls,
      ...bindingTuning(config),
      host,
      port: address.port,
      expectedIdentity,
      handshakeTimeoutMs: options.connectTimeoutMs + BINDING_TIMEOUT_SLACK_MS,
      signal: attempt.signal,
    })
    // A session that completes after we gave up is closed at once.
    dialing.then((late) => { if (settled) late.destroy() }, () => {})
    const session: QuicSession = await Promise.race([dialing, early])
    settled = true
    observer?.handshake?.('h3', 'client', 'ok')
    return new H3PeerSession({
      session,
      remote: { host: address.host, port: address.port },
      options: config,
      splice: config.spliceSockets,
      logger: components.logger.child({ transport: 'h3', peer: session.peerIdentity, remote: `${address.host}:${address.port}` }),
      observer,
    })
  } catch (err) {
    settled = true
    const meshErr = err === attempt.signal.reason && err instanceof Error ? err : handshakeError(err, where, expectedIdentity)
    observer?.handshake?.('h3', 'client', meshErr instanceof MeshError ? meshErr.code : 'aborted')
    components.logger.debug({ err: meshErr, peer: where }, 'h3 connect failed')
    throw meshErr
  } finally {
    clearTimeout(timer)
    timer = undefined
    stopProbe()
    signal?.removeEventListener('abort', onAbort)
  }
}

/** A peer's host as an IP literal (the bindings take no names); E_PEER_UNREACHABLE if it does not resolve. */
export async function resolveHost (host: string, where: string): Promise<string> {
  if (isIP(host) !== 0) return host
  try {
    return (await lookup(host)).address
  } catch (err) {
    throw new MeshError('E_PEER_UNREACHABLE', `cannot reach peer ${where}: ${(err as Error).message}`, { cause: err })
  }
}

/**
 * A handshake failure from the binding as a MeshError: the server's URI SAN not the expected one
 * is E_PEER_IDENTITY; a certificate refused either way, a TLS alert or ALPN is E_PEER_TLS; the
 * binding's own handshake timer is E_CONNECT_TIMEOUT.
 */
function handshakeError (err: unknown, where: string, expected: string): MeshError {
  if (err instanceof MeshError) return err
  const message = err instanceof Error ? err.message : String(err)
  if (!(err instanceof QuicSessionError)) {
    return new MeshError('E_PEER_UNREACHABLE', `cannot reach peer ${where} over QUIC: ${message}`, { cause: err })
  }
  const reason = message.replace(/^QUIC handshake with \S+ failed: /, '')
  const identity = /peer identity (\S+) is not the expected/.exec(reason)
  if (identity !== null) {
    return new MeshError('E_PEER_IDENTITY', `peer presented identity ${identity[1] ?? '(none)'}, expected ${expected}`, { cause: err })
  }
  if (/handshake timeout/.test(reason)) {
    return new MeshError('E_CONNECT_TIMEOUT', `QUIC handshake with peer ${where} timed out`, { cause: err })
  }
  if (/closed by peer/.test(reason)) {
    return new MeshError('E_PEER_TLS', `peer ${where} refused our client certificate (unknown CA, expired, or no SPIFFE ID): ${reason}`, { cause: err })
  }
  return new MeshError('E_PEER_TLS', `TLS handshake with peer ${where} failed: ${reason}`, { cause: err })
}
