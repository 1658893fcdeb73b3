/**
 * `meshgate k8s-secrets`: prints the identity Secrets of a mesh (secrets.ts) for `kubectl apply
 * -f -`, issued from a dev CA kept in a directory (made on first use; its key never leaves it).
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createCertificateAuthority, loadCertificateAuthority, type CertificateAuthority } from '../../core/identity/pki.js'
import { identitySecrets } from './secrets.js'

const USAGE = `Usage: meshgate k8s-secrets [--ca-dir DIR] [--trust-domain TD] [--namespace NS] [--days N] SERVICEACCOUNT...

Prints, as YAML for "kubectl apply -f -", the Secret meshgate-ca (the CA certificate) and for each
SERVICEACCOUNT a Secret meshgate-identity-<name> (ca.crt, tls.crt, tls.key) whose certificate
proves spiffe://<TD>/ns/<NS>/sa/<name>. The CA is read from DIR/ca.crt and DIR/ca.key, or made
there when DIR has neither (default .meshgate/k8s-ca, trust domain cluster.local, namespace
default, certificates valid 30 days). Keep DIR out of version control.
`

const NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/

class SecretsUsage extends Error {}

async function readIfThere (file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

async function loadOrCreateCa (dir: string, trustDomain: string): Promise<{ ca: CertificateAuthority, created: boolean }> {
  const [cert, key] = [await readIfThere(join(dir, 'ca.crt')), await readIfThere(join(dir, 'ca.key'))]
  if (cert !== undefined && key !== undefined) return { ca: await loadCertificateAuthority({ cert, key }), created: false }
  if (cert !== undefined || key !== undefined) throw new SecretsUsage(`${dir} has ${cert !== undefined ? 'ca.crt but no ca.key' : 'ca.key but no ca.crt'}; restore it or use another --ca-dir`)
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const ca = await createCertificateAuthority(trustDomain)
  for (const [file, text, mode] of [['ca.key', ca.key, 0o600], ['ca.crt', ca.cert, 0o644]] as const) {
    const temporary = join(dir, `${file}.${process.pid}.tmp`)
    await writeFile(temporary, text, { mode })
    await rename(temporary, join(dir, file))
  }
  return { ca, created: true }
}

export async function runK8sSecrets (argv: string[]): Promise<number> {
  let values, positionals
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        'ca-dir': { type: 'string', default: '.meshgate/k8s-ca' },
        'trust-domain': { type: 'string', default: 'cluster.local' },
        namespace: { type: 'string', default: 'default' },
        days: { type: 'string', default: '30' },
        help: { type: 'boolean', short: 'h' },
      },
    }))
    if (values.help === true) {
      process.stdout.write(USAGE)
      return 0
    }
    if (positionals.length === 0) throw new SecretsUsage('expected at least one SERVICEACCOUNT')
    for (const n of [values.namespace, ...positionals]) {
      if (!NAME.test(n)) throw new SecretsUsage(`"${n}" is not a Kubernetes name (lower-case letters, digits and "-", at most 63)`)
    }
    if (!/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(values['trust-domain'])) throw new SecretsUsage(`--trust-domain must be a DNS-like name, not "${values['trust-domain']}"`)
    if (!/^\d+$/.test(values.days) || Number(values.days) < 1 || Number(values.days) > 3650) throw new SecretsUsage(`--days must be a whole number 1–3650, not "${values.days}"`)
  } catch (err) {
    process.stderr.write(`meshgate k8s-secrets: ${(err as Error).message}\n${USAGE}`)
    return 2
  }
  const dir = values['ca-dir']
  try {
    const { ca, created } = await loadOrCreateCa(dir, values['trust-domain'])
    process.stdout.write(await identitySecrets(ca, {
      trustDomain: values['trust-domain'],
      namespace: values.namespace,
      workloads: [...new Set(positionals)],
      validForMs: Number(values.days) * 86_400_000,
    }))
    process.stderr.write(`${created ? 'created a CA in' : 'issued from the CA in'} ${dir}\n`)
    return 0
  } catch (err) {
    process.stderr.write(`meshgate k8s-secrets: ${dir}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}\n`)
    return 1
  }
}
