/**
 * `meshgate inject`: adds the meshgate sidecar to the workloads of a Kubernetes YAML stream, as
 * `linkerd inject` does: an init container that installs the transparent redirect, the proxy
 * container, and the volumes holding its identity and config. Other documents pass unchanged;
 * a workload that already has the sidecar is left as it is (injecting twice changes nothing).
 */
import { parseAllDocuments, stringify } from 'yaml'
import { NODE_FLAGS } from '../node-flags.js'

export interface InjectOptions {
  /** Image of the meshgate container (the repo's Dockerfile builds it). */
  image: string
  /** UID the proxy runs as; its traffic is not redirected. */
  proxyUid: number
  /** The Secret with this workload's ca.crt, tls.crt, tls.key (default `meshgate-identity-<name>`). */
  identitySecret?: string
  /** The ConfigMap with the sidecar's config.yaml (default `meshgate-config-<name>`). */
  configMap?: string
}

export const PROXY_CONTAINER = 'meshgate-proxy'
export const INIT_CONTAINER = 'meshgate-init'
export const PORTS = { outbound: 4140, inbound: 4143, admin: 4191 } as const
/** Where the sidecar finds its identity; a Secret volume updates it by an atomic ..data swap. */
export const IDENTITY_DIR = '/var/run/meshgate/identity'
export const CONFIG_DIR = '/etc/meshgate'

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job'])

type Obj = Record<string, unknown>

function obj (value: unknown): Obj | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? value as Obj : undefined
}

function list (value: unknown): Obj[] {
  return Array.isArray(value) ? value.map(obj).filter((v): v is Obj => v !== undefined) : []
}

export interface InjectResult {
  yaml: string
  /** `Kind/name` of each workload injected now, and of each that already had the sidecar. */
  injected: string[]
  alreadyInjected: string[]
}

/** A problem with the input: names the document and what was wrong. */
export class InjectError extends Error {}

export function inject (text: string, options: InjectOptions): InjectResult {
  const docs = parseAllDocuments(text)
  const injected: string[] = []
  const alreadyInjected: string[] = []
  const out: string[] = []
  for (const [i, doc] of (Array.isArray(docs) ? docs : [docs]).entries()) {
    if (doc.errors.length > 0) throw new InjectError(`document ${i + 1}: not valid YAML: ${doc.errors[0]?.message.split('\n')[0] ?? ''}`)
    const value: unknown = doc.toJS()
    if (value === null || value === undefined) continue
    const resource = obj(value)
    if (resource === undefined) throw new InjectError(`document ${i + 1}: expected a Kubernetes object (a mapping), found ${Array.isArray(value) ? 'a list' : typeof value}`)
    const kind = typeof resource.kind === 'string' ? resource.kind : ''
    const name = typeof obj(resource.metadata)?.name === 'string' ? obj(resource.metadata)?.name as string : ''
    if (WORKLOAD_KINDS.has(kind)) {
      const podSpec = obj(obj(obj(resource.spec)?.template)?.spec)
      if (podSpec === undefined) throw new InjectError(`document ${i + 1} (${kind}/${name}): spec.template.spec missing`)
      if (list(podSpec.containers).some((c) => c.name === PROXY_CONTAINER)) {
        alreadyInjected.push(`${kind}/${name}`)
      } else {
        injectPod(resource, podSpec, name, options)
        injected.push(`${kind}/${name}`)
      }
    }
    out.push(stringify(resource, { lineWidth: 0 }))
  }
  return { yaml: out.join('---\n'), injected, alreadyInjected }
}

function injectPod (resource: Obj, podSpec: Obj, name: string, options: InjectOptions): void {
  const containers = list(podSpec.containers)
  const appPorts = [...new Set(containers.flatMap((c) => list(c.ports))
    .filter((p) => p.protocol === undefined || p.protocol === 'TCP')
    .map((p) => p.containerPort)
    .filter((p): p is number => typeof p === 'number'))]
  const template = obj(obj(resource.spec)?.template) as Obj
  const metadata = obj(template.metadata) ?? {}
  metadata.annotations = { ...obj(metadata.annotations), 'meshgate.io/inject': 'injected', 'meshgate.io/app-ports': appPorts.join(',') }
  template.metadata = metadata
  const redirect = ['redirect', 'install', '--proxy-uid', String(options.proxyUid),
    '--outbound-port', String(PORTS.outbound), '--inbound-port', String(PORTS.inbound)]
  if (appPorts.length > 0) redirect.push('--app-ports', appPorts.join(','))
  podSpec.initContainers = [{
    name: INIT_CONTAINER,
    image: options.image,
    args: redirect,
    securityContext: {
      runAsUser: 0,
      runAsNonRoot: false,
      allowPrivilegeEscalation: false,
      capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] },
    },
  }, ...list(podSpec.initContainers)]
  podSpec.containers = [...containers, proxyContainer(options)]
  podSpec.volumes = [...list(podSpec.volumes),
    { name: 'meshgate-identity', secret: { secretName: options.identitySecret ?? `meshgate-identity-${name}` } },
    { name: 'meshgate-config', configMap: { name: options.configMap ?? `meshgate-config-${name}` } },
  ]
}

/**
 * The proxy container. Its config is a template: `$POD_IP` in it becomes the pod's address
 * (the inbound targets and discovery's endpoint targets are pod IP:port), then meshgate runs.
 */
export function proxyContainer (options: InjectOptions): Obj {
  return {
    name: PROXY_CONTAINER,
    image: options.image,
    command: ['/bin/sh', '-c'],
    args: [`sed "s/\\$POD_IP/$POD_IP/g" ${CONFIG_DIR}/config.yaml > /tmp/meshgate.yaml && exec node ${NODE_FLAGS.join(' ')} dist/src/cli.js run /tmp/meshgate.yaml`],
    env: [{ name: 'POD_IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } }],
    ports: [
      { name: 'mesh-inbound', containerPort: PORTS.inbound, protocol: 'TCP' },
      { name: 'mesh-inbound-q', containerPort: PORTS.inbound, protocol: 'UDP' },
      { name: 'mesh-admin', containerPort: PORTS.admin, protocol: 'TCP' },
    ],
    readinessProbe: { httpGet: { path: '/ready', port: PORTS.admin }, periodSeconds: 5 },
    livenessProbe: { httpGet: { path: '/live', port: PORTS.admin }, periodSeconds: 10 },
    securityContext: {
      runAsUser: options.proxyUid,
      runAsNonRoot: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    },
    volumeMounts: [
      { name: 'meshgate-identity', mountPath: IDENTITY_DIR, readOnly: true },
      { name: 'meshgate-config', mountPath: CONFIG_DIR, readOnly: true },
    ],
  }
}
