/**
 * Test certificates: a fresh mesh CA per test file, workload certificates for it, and the bad
 * cases (a foreign CA, an expired certificate).
 */
import { createCertificateAuthority, spiffeId, type CertificateAuthority } from '../../core/identity/pki.js'
import type { TlsMaterial } from '../../transports/contract.js'

export const TRUST_DOMAIN = 'test.local'

export interface TestPki {
  ca: CertificateAuthority
  /** TLS material for a workload named `sa` in the test trust domain. */
  workload: (sa: string, options?: { expired?: boolean }) => Promise<TlsMaterial>
  id: (sa: string) => string
}

export async function makePki (trustDomain = TRUST_DOMAIN): Promise<TestPki> {
  const ca = await createCertificateAuthority(trustDomain)
  const id = (sa: string): string => spiffeId(trustDomain, sa)
  return {
    ca,
    id,
    workload: async (sa, options = {}) => {
      const dates = options.expired === true
        ? { notBefore: new Date(Date.now() - 3 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) }
        : {}
      const issued = await ca.issue(id(sa), dates)
      return { ca: ca.cert, cert: issued.cert, key: issued.key }
    },
  }
}
