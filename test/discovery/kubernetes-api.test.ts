// Kubernetes credentials: kubeconfig contexts, and a source that reaches the API server through one.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { KubernetesError, readKubeconfig } from '../../src/discovery/kubernetes-api.js'
import { KubernetesSource } from '../../src/discovery/kubernetes.js'
import type { DiscoveryUpdate } from '../../src/discovery/types.js'
import { endpointSlice, FakeKubeApi } from './fake-kube-api.js'
import { until } from './log-capture.js'

let dir: string
const api = new FakeKubeApi()
let url: string

const kubeconfig = (server: string, user: string): string => `apiVersion: v1
kind: Config
current-context: test
contexts:
  - name: other
    context: { cluster: nowhere, user: nobody }
  - name: test
    context: { cluster: loop, user: me, namespace: shop }
clusters:
  - name: loop
    cluster:
      server: ${server}
      certificate-authority-data: ${Buffer.from('-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n').toString('base64')}
users:
  - name: me
    user: ${user}
`

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshgate-kubeconfig-'))
  url = await api.start()
  api.emit('ADDED', endpointSlice('web-1', 'web', ['10.1.0.1']))
})

after(async () => {
  await api.stop()
  await rm(dir, { recursive: true, force: true })
})

test('kubeconfig: current context gives server, CA, token file, client cert and namespace', async () => {
  await writeFile(join(dir, 'client.key'), 'KEY')
  const path = join(dir, 'config')
  await writeFile(path, kubeconfig('https://127.0.0.1:6443', `{ tokenFile: ./token, client-certificate-data: ${Buffer.from('CERT').toString('base64')}, client-key: client.key }`))
  const c = await readKubeconfig(path)
  assert.equal(c.server, 'https://127.0.0.1:6443')
  assert.match(c.ca ?? '', /BEGIN CERTIFICATE/)
  assert.equal(c.cert, 'CERT')
  assert.equal(c.key, 'KEY')
  assert.equal(c.tokenFile, join(dir, 'token'))
  assert.equal(c.namespace, 'shop')
})

test('kubeconfig: exec credentials and a missing context are refused with a code', async () => {
  const path = join(dir, 'exec')
  await writeFile(path, kubeconfig('https://x', '{ exec: { command: aws } }'))
  await assert.rejects(readKubeconfig(path), (err: unknown) => err instanceof KubernetesError && err.code === 'E_DISCOVERY_K8S_CREDENTIALS' && /exec/.test(err.message))
  await writeFile(path, 'current-context: none\ncontexts: []\n')
  await assert.rejects(readKubeconfig(path), /current-context none not found/)
})

test('a source configured by kubeconfig lists and watches with its token and namespace', async () => {
  const path = join(dir, 'plain')
  await writeFile(path, kubeconfig(url, '{ token: test-token }'))
  const source = new KubernetesSource({ kubeconfig: path, backoffInitialMs: 20, services: { web: { name: 'web', peerPort: 4143, identity: 'spiffe://c/ns/{namespace}/sa/web' } } })
  const updates: DiscoveryUpdate[] = []
  source.watch('web', (u) => updates.push(u))
  try {
    await until(() => updates.length > 0, 3000, 'set via kubeconfig')
    const u = updates[0]
    assert.ok(u?.kind === 'reset')
    assert.deepEqual(u.endpoints.map((e) => [e.peer.host, e.identity]), [['10.1.0.1', 'spiffe://c/ns/shop/sa/web']])
    assert.equal(api.requests.find((r) => r.query.get('watch') === null && r.path.endsWith('/endpointslices'))?.path, '/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices')
    assert.ok(api.requests.some((r) => r.path === '/api/v1/namespaces/shop/pods'), 'the pods of the kubeconfig namespace are listed too')
  } finally {
    await source.close()
  }
})
