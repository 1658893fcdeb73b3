/**
 * Checking a workload's TLS material before it is put into use (identity rotation): the key
 * matches the certificate, the certificate is valid now, and its chain ends at one of the trusted
 * CAs of the bundle. Pure: PEM text in, a verdict out; no files, no clock but the one passed in.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto'

/** PEM text of a CA bundle, a certificate chain (leaf first) and its private key. */
export interface PemMaterial {
  ca: string
  cert: string
  key: string
}

/** What a check learnt of the leaf certificate of accepted material. */
export interface LeafSummary {
  /** Upper-case hex, as node:tls's `getPeerCertificate().serialNumber`. */
  serial: string
  notBefore: Date
  notAfter: Date
  /** The first `spiffe://` URI SAN, if any. */
  identity: string | undefined
  /** SHA-256 fingerprints of the trusted roots of the bundle, in file order. */
  roots: string[]
}

/** Which part of the material is at fault. */
export type MaterialPart = 'ca' | 'cert' | 'key'

/** Why material was refused, as a short stable word (a metric label). */
export type RefusalKind = 'unparsable' | 'key_mismatch' | 'not_yet_valid' | 'expired' | 'untrusted'

export type MaterialVerdict =
  | { ok: true, leaf: LeafSummary }
  | { ok: false, part: MaterialPart, kind: RefusalKind, reason: string }

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g

/** Every certificate in a PEM text, in order; throws on one that does not parse. */
export function parseCertificates (pem: string): X509Certificate[] {
  return (pem.match(PEM_CERT) ?? []).map((block) => new X509Certificate(block))
}

function firstSpiffeId (cert: X509Certificate): string | undefined {
  for (const part of (cert.subjectAltName ?? '').split(/,\s*/)) {
    if (part.startsWith('URI:spiffe://')) return part.slice(4)
  }
  return undefined
}

function issuedBy (child: X509Certificate, parent: X509Certificate): boolean {
  return child.checkIssued(parent) && child.verify(parent.publicKey)
}

function describe (err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/**
 * Checks `material` at time `now`: the CA bundle holds at least one certificate; the chain holds
 * a leaf that is valid at `now` (notBefore ≤ now ≤ notAfter) and whose public key is the one of
 * `key`; each certificate of the chain is signed by the next, and the last one by (or is) a CA
 * of the bundle. The reason of a refusal is one short sentence naming what is wrong.
 */
export function checkMaterial (material: PemMaterial, now: Date): MaterialVerdict {
  let roots: X509Certificate[]
  try {
    roots = parseCertificates(material.ca)
  } catch (err) {
    return { ok: false, part: 'ca', kind: 'unparsable', reason: `a CA certificate does not parse (${describe(err)})` }
  }
  if (roots.length === 0) return { ok: false, part: 'ca', kind: 'unparsable', reason: 'holds no PEM certificate' }
  let chain: X509Certificate[]
  try {
    chain = parseCertificates(material.cert)
  } catch (err) {
    return { ok: false, part: 'cert', kind: 'unparsable', reason: `the certificate does not parse (${describe(err)})` }
  }
  const leaf = chain[0]
  if (leaf === undefined) return { ok: false, part: 'cert', kind: 'unparsable', reason: 'holds no PEM certificate' }
  let key: KeyObject
  try {
    key = createPrivateKey(material.key)
  } catch (err) {
    return { ok: false, part: 'key', kind: 'unparsable', reason: `the private key does not parse (${describe(err)})` }
  }
  if (!leaf.checkPrivateKey(key)) {
    return { ok: false, part: 'key', kind: 'key_mismatch', reason: `does not match the certificate (serial ${leaf.serialNumber}): the pair is not one` }
  }
  const notBefore = new Date(leaf.validFrom)
  const notAfter = new Date(leaf.validTo)
  if (now.getTime() < notBefore.getTime()) {
    return { ok: false, part: 'cert', kind: 'not_yet_valid', reason: `is not valid yet (notBefore ${notBefore.toISOString()})` }
  }
  if (now.getTime() > notAfter.getTime()) {
    return { ok: false, part: 'cert', kind: 'expired', reason: `has expired (notAfter ${notAfter.toISOString()})` }
  }
  for (let i = 0; i + 1 < chain.length; i++) {
    const child = chain[i] as X509Certificate
    const parent = chain[i + 1] as X509Certificate
    if (!issuedBy(child, parent)) {
      return { ok: false, part: 'cert', kind: 'untrusted', reason: `chain certificate ${i + 1} (${parent.subject.replace(/\n/g, ', ')}) did not issue certificate ${i}` }
    }
  }
  const top = chain[chain.length - 1] as X509Certificate
  const anchored = roots.some((root) => root.fingerprint256 === top.fingerprint256 || issuedBy(top, root))
  if (!anchored) {
    return { ok: false, part: 'cert', kind: 'untrusted', reason: `is not issued by a CA of the trust bundle (issuer ${top.issuer.replace(/\n/g, ', ')}; the bundle holds ${roots.map((r) => r.subject.replace(/\n/g, ', ')).join(' | ')})` }
  }
  return {
    ok: true,
    leaf: { serial: leaf.serialNumber, notBefore, notAfter, identity: firstSpiffeId(leaf), roots: roots.map((r) => r.fingerprint256) },
  }
}
