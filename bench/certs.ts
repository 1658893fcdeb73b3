/**
 * Certificates for one bench run, made fresh with the project's own PKI (core/identity/pki.ts): a
 * mesh CA and two workload identities, `client` (the outbound side) and `server` (the inbound
 * side), written as separate PEM files for meshgate and as cert+key bundles for HAProxy.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createCertificateAuthority, spiffeId } from '../core/identity/pki.js'

export const TRUST_DOMAIN = 'bench.local'

/** Absolute paths of one workload's files. */
export interface WorkloadFiles {
  /** SPIFFE ID in the certificate's URI SAN. */
  identity: string
  cert: string
  key: string
  /** Certificate followed by its key, the form HAProxy's `crt` wants. */
  bundle: string
}

export interface BenchCertificates {
  ca: string
  trustDomain: string
  client: WorkloadFiles
  server: WorkloadFiles
}

/** Makes the CA and both workloads under `dir` (which must exist). */
export async function makeCertificates (dir: string): Promise<BenchCertificates> {
  const ca = await createCertificateAuthority(TRUST_DOMAIN)
  const caFile = join(dir, 'ca.crt')
  await writeFile(caFile, ca.cert)
  const workload = async (name: string): Promise<WorkloadFiles> => {
    const identity = spiffeId(TRUST_DOMAIN, name)
    const issued = await ca.issue(identity, { dnsNames: ['localhost'] })
    const files: WorkloadFiles = {
      identity,
      cert: join(dir, `${name}.crt`),
      key: join(dir, `${name}.key`),
      bundle: join(dir, `${name}.pem`),
    }
    await writeFile(files.cert, issued.cert)
    await writeFile(files.key, issued.key, { mode: 0o600 })
    await writeFile(files.bundle, issued.cert + issued.key, { mode: 0o600 })
    return files
  }
  return { ca: caFile, trustDomain: TRUST_DOMAIN, client: await workload('client'), server: await workload('server') }
}
