// deploy/kubernetes against kubectl and against what meshgate itself produces and reads:
// the injected demo is `meshgate inject` of the plain one; kubectl builds the kustomization
// offline; kubectl's client dry run accepts them, its kinds mapped through a loopback discovery
// server (test/helpers/kube-discovery.ts; the OpenAPI schemas are the real API server's, so the
// structure the sidecar relies on is asserted here too): kinds, images, the init container's arguments, the Secret and ConfigMap
// volumes, the ports each config uses, the RBAC its discovery needs.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseAllDocuments } from 'yaml'
import { parseConfig } from '../../src/config/load.js'
import { CONFIG_DIR, IDENTITY_DIR, INIT_CONTAINER, PORTS, PROXY_CONTAINER } from '../../src/inject/inject.js'
import { run } from '../helpers/exec.js'
import { kubectlSkip, offlineKubectl, type OfflineKubectl } from '../helpers/kubectl.js'
import { startKubeDiscovery } from '../helpers/kube-discovery.js'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const DEPLOY = `${ROOT}deploy/kubernetes/`
const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url))
/** The image the demo names; the Dockerfile's build comment tags it so. */
const IMAGE = 'meshgate:0.1.0'
const PROXY_UID = 2102

type Obj = Record<string, any>

function docsOf (text: string): Obj[] {
  return parseAllDocuments(text).map((d) => d.toJS() as Obj).filter((d) => d !== null)
}
const file = (name: string): Obj[] => docsOf(readFileSync(DEPLOY + name, 'utf8'))
const byKind = (docs: Obj[], kind: string): Obj[] => docs.filter((d) => d.kind === kind)
const named = (docs: Obj[], kind: string, name: string): Obj => {
  const found = docs.find((d) => d.kind === kind && d.metadata?.name === name)
  assert.ok(found !== undefined, `${kind}/${name} is in the manifests`)
  return found
}

describe('deploy/kubernetes', () => {
  const injected = file('demo/demo-injected.yaml')
  const configs = file('demo/demo-config.yaml')
  const rbac = file('rbac.yaml')
  const plain = file('demo/demo.yaml')

  it('the injected demo is exactly `meshgate inject` of the plain one, and injecting it again changes nothing', async () => {
    const r = await run(process.execPath, [CLI, 'inject', '--image', IMAGE, `${DEPLOY}demo/demo.yaml`])
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(docsOf(r.stdout), injected)
    assert.match(r.stderr, /Deployment\/demo-server injected\nDeployment\/demo-client injected/)
    const again = await run(process.execPath, [CLI, 'inject', '--image', IMAGE, `${DEPLOY}demo/demo-injected.yaml`])
    assert.equal(again.code, 0, again.stderr)
    assert.deepEqual(docsOf(again.stdout), injected)
    assert.match(again.stderr, /already has the meshgate sidecar/)
  })

  it('two Deployments, each with the app, the sidecar and the redirect init container; only the meshgate image', () => {
    const deployments = byKind(injected, 'Deployment')
    assert.deepEqual(deployments.map((d) => d.metadata.name).sort(), ['demo-client', 'demo-server'])
    for (const d of deployments) {
      const pod = d.spec.template.spec
      assert.deepEqual(pod.containers.map((c: Obj) => c.name), ['app', PROXY_CONTAINER])
      assert.deepEqual(pod.initContainers.map((c: Obj) => c.name), [INIT_CONTAINER])
      for (const c of [...pod.containers, ...pod.initContainers]) assert.equal(c.image, IMAGE, `${d.metadata.name}/${c.name as string}`)
      // The app is redirected, so it must not run as the UID the redirect lets out.
      assert.notEqual(pod.containers[0].securityContext.runAsUser, PROXY_UID)
      assert.equal(d.spec.selector.matchLabels.app, d.spec.template.metadata.labels.app)
    }
    assert.deepEqual(byKind(injected, 'Service').map((s) => s.metadata.name).sort(), ['demo-client', 'demo-server'])
  })

  it('the init container runs `meshgate redirect install` through the image entrypoint, as root with NET_ADMIN and NET_RAW, excluding the proxy\'s UID', () => {
    for (const d of byKind(injected, 'Deployment')) {
      const pod = d.spec.template.spec
      const init = pod.initContainers[0]
      const proxy = pod.containers.find((c: Obj) => c.name === PROXY_CONTAINER)
      assert.equal(init.command, undefined, 'the entrypoint (node dist/src/cli.js) runs it')
      assert.deepEqual(init.args.slice(0, 2), ['redirect', 'install'])
      const flag = (name: string): string | undefined => { const i = init.args.indexOf(name); return i < 0 ? undefined : init.args[i + 1] }
      assert.equal(flag('--proxy-uid'), String(PROXY_UID))
      assert.equal(proxy.securityContext.runAsUser, PROXY_UID)
      assert.equal(flag('--outbound-port'), String(PORTS.outbound))
      assert.equal(flag('--inbound-port'), String(PORTS.inbound))
      assert.equal(init.securityContext.runAsUser, 0)
      assert.deepEqual([...init.securityContext.capabilities.add].sort(), ['NET_ADMIN', 'NET_RAW'])
      const appPorts = pod.containers[0].ports?.map((p: Obj) => String(p.containerPort)) ?? []
      assert.equal(flag('--app-ports'), appPorts.length > 0 ? appPorts.join(',') : undefined)
    }
  })

  it('the sidecar mounts its identity Secret and its ConfigMap; each config parses, uses those files and the ports the redirect and the probes use', () => {
    for (const d of byKind(injected, 'Deployment')) {
      const name = d.metadata.name as string
      const pod = d.spec.template.spec
      const proxy = pod.containers.find((c: Obj) => c.name === PROXY_CONTAINER)
      const volume = (v: string): Obj => pod.volumes.find((x: Obj) => x.name === v)
      const mount = (v: string): Obj => proxy.volumeMounts.find((m: Obj) => m.name === v)
      assert.equal(volume('meshgate-identity').secret.secretName, `meshgate-identity-${name}`)
      assert.equal(mount('meshgate-identity').mountPath, IDENTITY_DIR)
      assert.equal(mount('meshgate-config').mountPath, CONFIG_DIR)
      const map = named(configs, 'ConfigMap', volume('meshgate-config').configMap.name)
      assert.equal(map.metadata.namespace, d.metadata.namespace)
      assert.match(proxy.args[0], new RegExp(`${CONFIG_DIR}/config\\.yaml`))
      // What the sidecar's shell does to it at start, then meshgate's own validation.
      const text = (map.data['config.yaml'] as string).replaceAll('$POD_IP', '10.1.2.3')
      const config = parseConfig(text, `${name}/config.yaml`)
      const tls = config.outbound?.tls ?? config.inbound?.tls
      assert.ok(tls !== undefined)
      assert.deepEqual([tls.ca, tls.cert, tls.key], ['ca.crt', 'tls.crt', 'tls.key'].map((k) => `${IDENTITY_DIR}/${k}`))
      for (const t of [config.outbound?.tls, config.inbound?.tls]) if (t !== undefined) assert.deepEqual(t, tls)
      // The kubelet probes the admin port on the pod IP.
      assert.ok(config.admin !== undefined)
      assert.equal(config.admin.host, '0.0.0.0')
      assert.equal(proxy.readinessProbe.httpGet.port, config.admin.port)
      assert.equal(proxy.ports.find((p: Obj) => p.name === 'mesh-admin').containerPort, config.admin.port)
      for (const l of config.outbound?.listeners ?? []) {
        assert.equal(l.port, PORTS.outbound)
        assert.equal(l.originalDestination, true)
      }
      for (const l of config.inbound?.listeners ?? []) {
        assert.equal(l.port, PORTS.inbound)
        assert.equal(proxy.ports.find((p: Obj) => p.name === 'mesh-inbound').containerPort, l.port)
      }
      const appPorts = (pod.containers[0].ports ?? []).map((p: Obj) => p.containerPort)
      assert.deepEqual((config.inbound?.targets ?? []).map((t) => Number(t.address.split(':').pop())), appPorts)
    }
  })

  it('the client\'s discovery names the server\'s Service, its port and identity; the server allows the client\'s identity', () => {
    const client = parseConfig(named(configs, 'ConfigMap', 'meshgate-config-demo-client').data['config.yaml'], 'client')
    const server = parseConfig(named(configs, 'ConfigMap', 'meshgate-config-demo-server').data['config.yaml'].replaceAll('$POD_IP', '10.1.2.3'), 'server')
    const source = client.discovery?.sources.k8s
    assert.ok(source?.kind === 'kubernetes')
    const k8s = source.services['demo-server']
    assert.ok(k8s !== undefined)
    assert.equal(client.services['demo-server']?.source, 'k8s')
    const service = named(plain, 'Service', k8s.name)
    assert.ok(service.spec.ports.some((p: Obj) => p.name === k8s.targetPort), 'targetPort names a port of the Service')
    assert.equal(k8s.peerPort, PORTS.inbound)
    const serverDeployment = named(plain, 'Deployment', 'demo-server')
    assert.deepEqual(service.spec.selector, serverDeployment.spec.template.metadata.labels)
    const ns = service.metadata.namespace as string
    assert.equal(k8s.identity.replace('{namespace}', ns), `spiffe://cluster.local/ns/${ns}/sa/${serverDeployment.spec.template.spec.serviceAccountName as string}`)
    const clientSa = named(plain, 'Deployment', 'demo-client').spec.template.spec.serviceAccountName as string
    assert.deepEqual(server.inbound?.targets.map((t) => t.allow), [[`spiffe://cluster.local/ns/${ns}/sa/${clientSa}`]])
    // The unchanged client app dials the Service by name and port.
    const app = named(plain, 'Deployment', 'demo-client').spec.template.spec.containers[0].args[0] as string
    assert.ok(app.includes(`http://${k8s.name}:${service.spec.ports[0].port as number}/`), app)
  })

  it('RBAC: read-only EndpointSlices, Services and Pods, bound to every meshed ServiceAccount', () => {
    const role = named(rbac, 'ClusterRole', 'meshgate-discovery')
    const verbs = (group: string, resource: string): string[] => role.rules.find((r: Obj) => r.apiGroups.includes(group) && r.resources.includes(resource))?.verbs ?? []
    for (const [group, resource] of [['discovery.k8s.io', 'endpointslices'], ['', 'services'], ['', 'pods']]) {
      assert.deepEqual([...verbs(group as string, resource as string)].sort(), ['get', 'list', 'watch'], `${resource as string}`)
    }
    assert.ok(role.rules.every((r: Obj) => r.verbs.every((v: string) => ['get', 'list', 'watch'].includes(v))))
    const binding = named(rbac, 'ClusterRoleBinding', 'meshgate-discovery')
    assert.equal(binding.roleRef.name, role.metadata.name)
    for (const d of byKind(injected, 'Deployment')) {
      const sa = d.spec.template.spec.serviceAccountName as string
      named(injected, 'ServiceAccount', sa)
      assert.ok(binding.subjects.some((s: Obj) => s.kind === 'ServiceAccount' && s.name === sa && s.namespace === d.metadata.namespace), sa)
    }
  })

  it('no private key is checked in under deploy/', async () => {
    const r = await run('git', ['-C', ROOT, 'grep', '-l', 'PRIVATE KEY-----', '--', 'deploy'])
    assert.equal(r.code, 1, `files with a private key: ${r.stdout}`)
  })
})

describe('deploy/kubernetes with kubectl (no cluster)', { skip: kubectlSkip() }, () => {
  let kubectl: OfflineKubectl
  before(async () => { kubectl = await offlineKubectl() })
  after(() => kubectl?.close())

  it('kubectl kustomize builds the kustomization: every resource of its files, each a Kubernetes object', async () => {
    const r = await kubectl.run(['kustomize', DEPLOY])
    assert.equal(r.code, 0, r.stderr)
    const built = docsOf(r.stdout)
    const expected = [...file('rbac.yaml'), ...file('demo/demo-config.yaml'), ...file('demo/demo-injected.yaml')]
    const id = (d: Obj): string => `${d.apiVersion as string} ${d.kind as string} ${(d.metadata?.namespace as string | undefined) ?? '-'}/${d.metadata?.name as string}`
    assert.deepEqual(built.map(id).sort(), expected.map(id).sort())
    for (const d of built) assert.deepEqual(d, expected.find((e) => id(e) === id(d)))
  })

  it('kubectl apply --dry-run=client accepts every manifest: each object printed as it would be created', async () => {
    const api = await startKubeDiscovery()
    const dry = await offlineKubectl(api.url)
    try {
      for (const name of ['rbac.yaml', 'demo/demo.yaml', 'demo/demo-config.yaml', 'demo/demo-injected.yaml']) {
        // --validate=false: the OpenAPI schemas are the real API server's; the kinds are mapped
        // through the discovery server, and the structure is asserted by the tests above.
        const r = await dry.run(['apply', '--dry-run=client', '--validate=false', '-o', 'yaml', '-f', DEPLOY + name])
        assert.equal(r.code, 0, `${name}: ${r.stderr}`)
        const printed = docsOf(r.stdout).flatMap((d) => d.kind === 'List' ? (d.items as Obj[]) : [d])
        const expected = file(name)
        const id = (d: Obj): string => `${d.apiVersion as string} ${d.kind as string} ${d.metadata?.name as string}`
        assert.deepEqual(printed.map(id).sort(), expected.map(id).sort(), name)
        for (const d of printed) {
          const e = expected.find((x) => id(x) === id(d)) as Obj
          for (const key of ['spec', 'data', 'rules', 'subjects', 'roleRef'] as const) assert.deepEqual(d[key], e[key], `${name}: ${id(d)} ${key}`)
        }
      }
      assert.ok(api.paths.includes('/apis/apps/v1'), 'kubectl mapped the kinds through the discovery server')
    } finally {
      dry.close()
      await api.close()
    }
  })

  it('kubectl apply --dry-run=client refuses a manifest it cannot take: an unknown kind, broken YAML', async () => {
    const api = await startKubeDiscovery()
    const dry = await offlineKubectl(api.url)
    const dir = mkdtempSync(join(tmpdir(), 'mg-manifest-'))
    try {
      const good = readFileSync(DEPLOY + 'demo/demo.yaml', 'utf8')
      writeFileSync(join(dir, 'typo.yaml'), good.replace('kind: Deployment', 'kind: Deploymnet'))
      writeFileSync(join(dir, 'broken.yaml'), good.replace('spec:', 'spec: [\n'))
      const typo = await dry.run(['apply', '--dry-run=client', '--validate=false', '-o', 'yaml', '-f', join(dir, 'typo.yaml')])
      assert.notEqual(typo.code, 0)
      assert.match(typo.stderr, /Deploymnet/)
      const broken = await dry.run(['apply', '--dry-run=client', '--validate=false', '-o', 'yaml', '-f', join(dir, 'broken.yaml')])
      assert.notEqual(broken.code, 0)
      assert.match(broken.stderr, /yaml|YAML|json/)
    } finally {
      rmSync(dir, { recursive: true, force: true })
      dry.close()
      await api.close()
    }
  })
})
