/**
 * The discovery half of a Kubernetes API server on 127.0.0.1, for kubectl's client-side dry run:
 * `/api`, `/apis` and one APIResourceList per group version, listing the kinds the manifests in
 * deploy/kubernetes use (their resource names, scope and verbs as Kubernetes publishes them), and
 * 404 NotFound for every object, so `kubectl apply --dry-run=client` maps each kind, finds nothing
 * live and prints what it would create. It serves no OpenAPI schemas (they are the real API
 * server's), so kubectl runs with --validate=false against it; a kind missing here is refused by
 * kubectl as unknown, which is the point.
 */
import http from 'node:http'
import type { AddressInfo } from 'node:net'

/** group/version → [resource, kind, namespaced]. */
const RESOURCES: Readonly<Record<string, ReadonlyArray<readonly [string, string, boolean]>>> = {
  v1: [['configmaps', 'ConfigMap', true], ['secrets', 'Secret', true], ['services', 'Service', true], ['serviceaccounts', 'ServiceAccount', true], ['pods', 'Pod', true], ['namespaces', 'Namespace', false]],
  'apps/v1': [['deployments', 'Deployment', true], ['statefulsets', 'StatefulSet', true], ['daemonsets', 'DaemonSet', true], ['replicasets', 'ReplicaSet', true]],
  'rbac.authorization.k8s.io/v1': [['clusterroles', 'ClusterRole', false], ['clusterrolebindings', 'ClusterRoleBinding', false], ['roles', 'Role', true], ['rolebindings', 'RoleBinding', true]],
  'discovery.k8s.io/v1': [['endpointslices', 'EndpointSlice', true]],
}
const VERBS = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch']

export interface KubeDiscovery {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string
  /** Every request path seen, in order. */
  readonly paths: string[]
  close: () => Promise<void>
}

function resourceList (groupVersion: string): object {
  return {
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion,
    resources: (RESOURCES[groupVersion] ?? []).map(([name, kind, namespaced]) => ({ name, singularName: '', namespaced, kind, verbs: VERBS })),
  }
}

function answer (path: string): { status: number, body: object } {
  if (path === '/api') return { status: 200, body: { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] } }
  if (path === '/api/v1') return { status: 200, body: resourceList('v1') }
  if (path === '/apis') {
    const groups = Object.keys(RESOURCES).filter((gv) => gv.includes('/')).map((gv) => {
      const [name, version] = gv.split('/') as [string, string]
      return { name, versions: [{ groupVersion: gv, version }], preferredVersion: { groupVersion: gv, version } }
    })
    return { status: 200, body: { kind: 'APIGroupList', apiVersion: 'v1', groups } }
  }
  const gv = path.slice('/apis/'.length)
  if (path.startsWith('/apis/') && RESOURCES[gv] !== undefined) return { status: 200, body: resourceList(gv) }
  return { status: 404, body: { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: `${path} not found` } }
}

export async function startKubeDiscovery (): Promise<KubeDiscovery> {
  const paths: string[] = []
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] as string
    paths.push(path)
    const { status, body } = answer(path)
    const text = JSON.stringify(body)
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
    res.end(text)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    paths,
    close: async () => { server.closeAllConnections(); await new Promise<void>((resolve) => server.close(() => resolve())) },
  }
}
