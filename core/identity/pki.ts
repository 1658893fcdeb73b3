/**
 * Certificate issuance for the mesh: a CA and workload certificates whose URI SAN is the
 * workload's SPIFFE ID. Used for the development PKI and by the tests (which also make expired
 * certificates and foreign CAs). ECDSA P-256, via @peculiar/x509 on Node's WebCrypto.
 */
import 'reflect-metadata'
import { webcrypto } from 'node:crypto'
import * as x509 from '@peculiar/x509'

x509.cryptoProvider.set(webcrypto as unknown as Crypto)

const ALGORITHM = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const
const DAY_MS = 86_400_000

/** A certificate and its private key, both PEM. */
export interface IssuedPem {
  cert: string
  key: string
}

/** A CA able to issue more certificates. */
export interface CertificateAuthority extends IssuedPem {
  readonly issue: (spiffeId: string, options?: IssueOptions) => Promise<IssuedPem>
}

export interface IssueOptions {
  /** Default: one hour ago. */
  notBefore?: Date
  /** Default: one year after notBefore. */
  notAfter?: Date
  /** Extra DNS SANs (e.g. `localhost`). */
  dnsNames?: string[]
}

function serial (): string {
  return Buffer.from(webcrypto.getRandomValues(new Uint8Array(12))).toString('hex').replace(/^[89a-f]/, '1')
}

async function keyPem (key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key))
  const body = der.toString('base64').match(/.{1,64}/g)?.join('\n') ?? ''
  return `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\n`
}

async function generateKeys (): Promise<CryptoKeyPair> {
  return await webcrypto.subtle.generateKey(ALGORITHM, true, ['sign', 'verify'])
}

/** Builds a CA from existing PEM (to issue more certificates from a saved dev CA). */
export async function loadCertificateAuthority (pem: IssuedPem): Promise<CertificateAuthority> {
  const caCert = new x509.X509Certificate(pem.cert)
  const der = Buffer.from(pem.key.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64')
  const privateKey = await webcrypto.subtle.importKey('pkcs8', der, ALGORITHM, true, ['sign'])
  return {
    cert: pem.cert,
    key: pem.key,
    issue: async (spiffeId, options = {}) => {
      const keys = await generateKeys()
      const notBefore = options.notBefore ?? new Date(Date.now() - 3_600_000)
      const notAfter = options.notAfter ?? new Date(notBefore.getTime() + 365 * DAY_MS)
      const names: x509.JsonGeneralName[] = [{ type: 'url', value: spiffeId }]
      for (const dns of options.dnsNames ?? []) names.push({ type: 'dns', value: dns })
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: serial(),
        subject: `CN=${spiffeId.split('/').pop() ?? 'workload'}`,
        issuer: caCert.subject,
        notBefore,
        notAfter,
        signingAlgorithm: ALGORITHM,
        publicKey: keys.publicKey,
        signingKey: privateKey,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
          new x509.SubjectAlternativeNameExtension(names, true),
          await x509.AuthorityKeyIdentifierExtension.create(caCert),
          await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
        ],
      })
      return { cert: cert.toString('pem') + '\n', key: await keyPem(keys.privateKey) }
    },
  }
}

/** Makes a new self-signed CA for a trust domain (valid ten years unless told otherwise). */
export async function createCertificateAuthority (trustDomain: string, options: IssueOptions = {}): Promise<CertificateAuthority> {
  const keys = await generateKeys()
  const notBefore = options.notBefore ?? new Date(Date.now() - 3_600_000)
  const notAfter = options.notAfter ?? new Date(notBefore.getTime() + 3650 * DAY_MS)
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=meshgate development CA for ${trustDomain}`,
    notBefore,
    notAfter,
    signingAlgorithm: ALGORITHM,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  })
  return await loadCertificateAuthority({ cert: cert.toString('pem') + '\n', key: await keyPem(keys.privateKey) })
}

/** `spiffe://<trustDomain>/ns/<ns>/sa/<sa>` */
export function spiffeId (trustDomain: string, serviceAccount: string, namespace = 'default'): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`
}
