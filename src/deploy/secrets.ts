/**
 * The Kubernetes Secrets of a mesh's identity, as YAML: `meshgate-ca` (the trust bundle, the CA
 * certificate only) and one `meshgate-identity-<service account>` per workload with the keys
 * `meshgate inject` mounts (ca.crt, tls.crt, tls.key; the names cert-manager writes too).
 */
import { stringify } from 'yaml'
import { spiffeId, type CertificateAuthority } from '../../core/identity/pki.js'

export interface SecretsOptions {
  trustDomain: string
  namespace: string
  /** Service accounts: each gets spiffe://<trustDomain>/ns/<namespace>/sa/<name>. */
  workloads: string[]
  /** Lifetime of each workload certificate, ms. */
  validForMs: number
}

const LABELS = { 'app.kubernetes.io/part-of': 'meshgate' }

function secret (name: string, namespace: string, type: string, data: Record<string, string>): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace, labels: LABELS },
    type,
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  }, { lineWidth: 0 })
}

/** Issues a certificate per workload from `ca` and returns the Secrets as one YAML stream. */
export async function identitySecrets (ca: CertificateAuthority, options: SecretsOptions): Promise<string> {
  const docs = [secret('meshgate-ca', options.namespace, 'Opaque', { 'ca.crt': ca.cert })]
  const notBefore = new Date(Date.now() - 60_000)
  for (const workload of options.workloads) {
    const issued = await ca.issue(spiffeId(options.trustDomain, workload, options.namespace), {
      notBefore,
      notAfter: new Date(notBefore.getTime() + options.validForMs),
    })
    docs.push(secret(`meshgate-identity-${workload}`, options.namespace, 'kubernetes.io/tls', { 'ca.crt': ca.cert, 'tls.crt': issued.cert, 'tls.key': issued.key }))
  }
  return docs.join('---\n')
}
