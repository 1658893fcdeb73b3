/**
 * Which trust root a verified certificate chain leads to. A listener trusting several roots at
 * once (the gateway: one CA per trust domain) learns from TLS only that the chain leads to one of
 * them; this tells whether it leads to a given one, by signatures, not by names alone.
 */
import { X509Certificate } from 'node:crypto'

/** The certificates of a PEM bundle (one CA file may hold several roots). */
export function certificatesOfPem (pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []
  return blocks.map((block) => new X509Certificate(block))
}

function issuedBy (cert: X509Certificate, issuer: X509Certificate): boolean {
  return cert.checkIssued(issuer) && cert.verify(issuer.publicKey)
}

/**
 * True when `chain` (DER, leaf first, as the peer presented it or as TLS built it) leads from its
 * leaf to one of `roots`: each step is a certificate of the chain signed by the next, and the last
 * one is signed by a root (or is that root). Bounded by the chain's length; loops end it.
 */
export function chainLeadsTo (chain: readonly Uint8Array[], roots: readonly X509Certificate[]): boolean {
  if (chain.length === 0 || roots.length === 0) return false
  let certs: X509Certificate[]
  try {
    certs = chain.map((der) => new X509Certificate(der))
  } catch {
    return false
  }
  const used = new Set<number>([0])
  let current = certs[0]
  for (let step = 0; step <= certs.length; step++) {
    for (const root of roots) {
      if (current.raw.equals(root.raw) || issuedBy(current, root)) return true
    }
    const next = certs.findIndex((c, i) => !used.has(i) && issuedBy(current, c))
    if (next < 0) return false
    used.add(next)
    current = certs[next]
  }
  return false
}
