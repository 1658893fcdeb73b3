/**
 * The certificates of one interop run: a throw-away test CA, a server certificate (SPIFFE URI SAN
 * plus the DNS name `localhost` for peers that check names) and a client certificate, written as
 * PEM files that every peer reads; and the server key's SPKI hash for Chromium's allow-list.
 */
import { createHash, X509Certificate } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createCertificateAuthority, spiffeId } from '../core/identity/pki.js'
import type { CertFiles } from './types.js'

/** Trust domain of the interop certificates. */
export const INTEROP_TRUST_DOMAIN = 'interop.meshgate.test'
const SERVER_NAME = 'localhost'

/** Issues the run's certificates into `dir` (created if needed). */
export async function writeInteropCerts (dir: string): Promise<CertFiles> {
  mkdirSync(dir, { recursive: true })
  const ca = await createCertificateAuthority(INTEROP_TRUST_DOMAIN)
  const serverIdentity = spiffeId(INTEROP_TRUST_DOMAIN, 'interop-server')
  const server = await ca.issue(serverIdentity, { dnsNames: [SERVER_NAME] })
  const client = await ca.issue(spiffeId(INTEROP_TRUST_DOMAIN, 'interop-client'))
  const files: CertFiles = {
    ca: join(dir, 'ca.pem'),
    serverCert: join(dir, 'server.pem'),
    serverKey: join(dir, 'server.key'),
    clientCert: join(dir, 'client.pem'),
    clientKey: join(dir, 'client.key'),
    serverIdentity,
    serverSpkiSha256: spkiSha256(server.cert),
    serverName: SERVER_NAME,
  }
  writeFileSync(files.ca, ca.cert)
  writeFileSync(files.serverCert, server.cert)
  writeFileSync(files.serverKey, server.key, { mode: 0o600 })
  writeFileSync(files.clientCert, client.cert)
  writeFileSync(files.clientKey, client.key, { mode: 0o600 })
  return files
}

/** base64 SHA-256 of a certificate's SubjectPublicKeyInfo (what `--ignore-certificate-errors-spki-list` takes). */
export function spkiSha256 (certPem: string): string {
  const spki = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' })
  return createHash('sha256').update(spki).digest('base64')
}
