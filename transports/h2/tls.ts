// Mutual TLS for the h2 transport: TLS 1.3 with ALPN h2, SPIFFE identity checks, error mapping.
import type { ConnectionOptions, DetailedPeerCertificate, PeerCertificate, TlsOptions } from 'node:tls'
import { MeshError } from '../../core/errors.js'
import { spiffeIdFromSubjectAltName } from '../../core/identity/spiffe.js'
import type { TlsMaterial } from '../contract.js'

/** ALPN protocol ID of HTTP/2 over TLS (RFC 9113 §3.2). */
export const ALPN_H2 = 'h2'

/**
 * Client-side TLS options: only the mesh CA is trusted, and the usual host-name check is replaced
 * by comparing the server's SPIFFE ID with `expectedIdentity` (E_PEER_IDENTITY on a mismatch).
 */
export function clientTlsOptions (tls: TlsMaterial, expectedIdentity: string): ConnectionOptions {
  return {
    ca: tls.ca,
    cert: tls.cert,
    key: tls.key,
    minVersion: 'TLSv1.3',
    ALPNProtocols: [ALPN_H2],
    rejectUnauthorized: true,
    checkServerIdentity: (_host: string, cert: PeerCertificate) => checkPeerIdentity(cert, expectedIdentity),
  }
}

/** Server-side TLS options: a client certificate from the mesh CA is required. */
export function serverTlsOptions (tls: TlsMaterial): TlsOptions {
  return {
    ca: tls.ca,
    cert: tls.cert,
    key: tls.key,
    minVersion: 'TLSv1.3',
    ALPNProtocols: [ALPN_H2],
    requestCert: true,
    rejectUnauthorized: true,
  }
}

/** undefined if `cert` carries the SPIFFE ID `expected`, else the E_PEER_IDENTITY error. */
export function checkPeerIdentity (cert: PeerCertificate, expected: string): MeshError | undefined {
  const found = spiffeIdFromSubjectAltName(cert.subjectaltname)
  if (found === expected) return undefined
  return new MeshError('E_PEER_IDENTITY', `peer presented identity ${found ?? '(no SPIFFE URI SAN)'}, expected ${expected}`)
}

/** The SPIFFE ID of a verified peer certificate, if it has one. */
export function identityOf (cert: PeerCertificate | undefined): string | undefined {
  return spiffeIdFromSubjectAltName(cert?.subjectaltname)
}

/** A verified caller of a server session: its SPIFFE ID and the certificates it presented. */
export interface PeerCaller {
  identity: string
  /** DER, leaf first, up the chain the handshake verified (node links each to its issuer). */
  certificates: readonly Buffer[]
}

/** The certificates of a verified peer's chain, DER, leaf first (bounded; stops at a self-signed root). */
export function chainOf (cert: DetailedPeerCertificate): Buffer[] {
  const chain: Buffer[] = []
  let current: DetailedPeerCertificate | undefined = cert
  while (current?.raw !== undefined && chain.length < 16) {
    chain.push(current.raw)
    const issuer: DetailedPeerCertificate | undefined = current.issuerCertificate
    if (issuer === undefined || issuer === current || issuer.raw === undefined || issuer.raw.equals(current.raw)) break
    current = issuer
  }
  return chain
}

/** Socket errors that mean the peer could not be reached at all. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL'])

/**
 * A connect-phase failure as a MeshError: MeshErrors pass through, TCP failures before the
 * connection was up are E_PEER_UNREACHABLE, and anything once TCP was up is E_PEER_TLS with the
 * TLS reason in the message.
 */
export function connectError (err: unknown, tcpUp: boolean, where: string): MeshError {
  if (err instanceof MeshError) return err
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? ''
  const reason = err instanceof Error ? err.message : String(err)
  if (!tcpUp || UNREACHABLE.has(code)) {
    return new MeshError('E_PEER_UNREACHABLE', `cannot reach peer ${where}: ${reason}`, { cause: err })
  }
  return new MeshError('E_PEER_TLS', `TLS handshake with peer ${where} failed: ${reason}${code === '' ? '' : ` (${code})`}`, { cause: err })
}
