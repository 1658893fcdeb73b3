// `meshgate k8s-secrets`: the identity Secrets, issued from a dev CA kept in a directory. The
// workload certificate proves the service account's SPIFFE ID, is signed by the CA, and matches
// its key; a second run reuses the CA; the trust bundle equals what
// `kubectl create secret generic --from-file` makes of the CA file (run offline).
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { X509Certificate, createPrivateKey } from 'node:crypto'
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseAllDocuments } from 'yaml'
import { run } from '../helpers/exec.js'
import { kubectlSkip, offlineKubectl } from '../helpers/kubectl.js'

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url))

interface Secret { kind: string, type: string, metadata: { name: string, namespace: string }, data: Record<string, string> }
const secretsOf = (text: string): Secret[] => parseAllDocuments(text).map((d) => d.toJS() as Secret)
const decode = (b64: string): string => Buffer.from(b64, 'base64').toString()

describe('meshgate k8s-secrets', () => {
  let dir: string
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'mg-k8s-secrets-')) })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  it('prints meshgate-ca and one identity Secret per service account, from a CA it creates once', async () => {
    const caDir = join(dir, 'ca')
    const r = await run(process.execPath, [CLI, 'k8s-secrets', '--ca-dir', caDir, '--namespace', 'shop', '--days', '2', 'cart', 'web'])
    assert.equal(r.code, 0, r.stderr)
    assert.match(r.stderr, /created a CA in/)
    assert.equal((await stat(join(caDir, 'ca.key'))).mode & 0o777, 0o600)
    const secrets = secretsOf(r.stdout)
    assert.deepEqual(secrets.map((s) => `${s.metadata.namespace}/${s.metadata.name}:${s.type}`),
      ['shop/meshgate-ca:Opaque', 'shop/meshgate-identity-cart:kubernetes.io/tls', 'shop/meshgate-identity-web:kubernetes.io/tls'])
    const caPem = await readFile(join(caDir, 'ca.crt'), 'utf8')
    assert.deepEqual(Object.keys(secrets[0]?.data ?? {}), ['ca.crt'], 'the trust bundle carries no key')
    assert.equal(decode(secrets[0]?.data['ca.crt'] ?? ''), caPem)
    const ca = new X509Certificate(caPem)
    for (const [i, sa] of ['cart', 'web'].entries()) {
      const data = secrets[i + 1]?.data ?? {}
      assert.deepEqual(Object.keys(data).sort(), ['ca.crt', 'tls.crt', 'tls.key'])
      const cert = new X509Certificate(decode(data['tls.crt'] ?? ''))
      assert.ok(cert.verify(ca.publicKey))
      assert.ok(cert.checkPrivateKey(createPrivateKey(decode(data['tls.key'] ?? ''))))
      assert.equal(cert.subjectAltName, `URI:spiffe://cluster.local/ns/shop/sa/${sa}`)
      const days = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / 86_400_000
      assert.ok(days > 1.99 && days < 2.01, `valid ${days} days`)
    }
    const again = await run(process.execPath, [CLI, 'k8s-secrets', '--ca-dir', caDir, '--namespace', 'shop', 'cart'])
    assert.equal(again.code, 0, again.stderr)
    assert.match(again.stderr, /issued from the CA in/)
    assert.equal(decode(secretsOf(again.stdout)[0]?.data['ca.crt'] ?? ''), caPem)
  })

  it('refuses bad names and half a CA, saying what was wrong', async () => {
    const bad = await run(process.execPath, [CLI, 'k8s-secrets', '--ca-dir', join(dir, 'x'), 'Not_A_Name'])
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /"Not_A_Name" is not a Kubernetes name/)
    const none = await run(process.execPath, [CLI, 'k8s-secrets', '--ca-dir', join(dir, 'x')])
    assert.equal(none.code, 2)
    assert.match(none.stderr, /at least one SERVICEACCOUNT/)
    const half = join(dir, 'half')
    await run(process.execPath, [CLI, 'k8s-secrets', '--ca-dir', half, 'a'])
    await rm(join(half, 'ca.key'))
    const r = await run(process.execPath, [CLI, 'k8s-secrets', '--ca-dir', half, 'a'])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /has ca\.crt but no ca\.key/)
    assert.equal(r.stdout, '')
  })

  it('the trust bundle is what kubectl create secret generic --dry-run=client makes of ca.crt', { skip: kubectlSkip() }, async () => {
    const caDir = join(dir, 'kubectl')
    const ours = await run(process.execPath, [CLI, 'k8s-secrets', '--ca-dir', caDir, 'demo'])
    assert.equal(ours.code, 0, ours.stderr)
    const kubectl = await offlineKubectl()
    try {
      const r = await kubectl.run(['create', 'secret', 'generic', 'meshgate-ca', '-n', 'default', `--from-file=ca.crt=${join(caDir, 'ca.crt')}`, '--dry-run=client', '-o', 'yaml'])
      assert.equal(r.code, 0, r.stderr)
      const theirs = secretsOf(r.stdout)[0]
      const mine = secretsOf(ours.stdout)[0]
      assert.deepEqual([theirs?.kind, theirs?.metadata.name, theirs?.metadata.namespace, theirs?.data], [mine?.kind, mine?.metadata.name, mine?.metadata.namespace, mine?.data])
    } finally {
      kubectl.close()
    }
  })
})
