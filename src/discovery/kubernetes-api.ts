// Talks to the Kubernetes API server: where it is, how to authenticate (in-cluster or kubeconfig), GET.
import { readFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import type { Agent, request } from 'undici'
import { parse as parseYaml } from 'yaml'
import type { DiscoveryErrorCode } from './codes.js'

/** In-cluster service-account files. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount'

/**
 * Where the API server is and how to authenticate. Explicit fields win; then `kubeconfig`
 * (its current context: server, CA, token or client certificate, namespace); then the in-cluster
 * service account (`KUBERNETES_SERVICE_HOST`/`_PORT`, `<SERVICE_ACCOUNT_DIR>/token`, `ca.crt`,
 * `namespace`).
 */
export interface KubernetesConnection {
  /** API server URL, e.g. `https://10.96.0.1:443`. */
  apiServer?: string
  /** Bearer token; else read from `tokenFile` before every request (tokens rotate). */
  token?: string
  /** Default `<SERVICE_ACCOUNT_DIR>/token` in cluster; `false` sends no token. */
  tokenFile?: string | false
  /** CA bundle PEM for an https API server; else read from `caFile`. */
  ca?: string
  /** Default `<SERVICE_ACCOUNT_DIR>/ca.crt` in cluster. */
  caFile?: string
  /** Path of a kubeconfig file (exec and auth-provider plugins are not supported). */
  kubeconfig?: string
  /** Namespace of services that name none (default: kubeconfig context, service account, `default`). */
  namespace?: string
}

/** The resourceVersion asked for is too old (HTTP 410): relist. */
export class GoneError extends Error {}

/** A failure with a discovery code. */
export class KubernetesError extends Error {
  constructor (readonly code: DiscoveryErrorCode, message: string) { super(message) }
}

interface Resolved {
  server: string
  ca?: string
  cert?: string
  key?: string
  token: () => Promise<string | undefined>
  namespace: string
}

type Body = Awaited<ReturnType<typeof request>>['body']

async function readText (file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8')
  } catch (err) {
    throw new KubernetesError('E_DISCOVERY_K8S_CREDENTIALS', `cannot read ${what} ${file}: ${(err as Error).message}`)
  }
}

/** An API client for GETs; credentials are resolved on first use and the token file reread per call. */
export class KubernetesApiClient {
  private resolved: Promise<Resolved> | undefined
  private agent: Agent | undefined

  constructor (private readonly options: KubernetesConnection) {}

  /** The namespace services default to. */
  async namespace (): Promise<string> {
    return (await this.resolve()).namespace
  }

  /** GET `pathAndQuery`; the body of a 200, else GoneError (410) or KubernetesError. */
  async get (pathAndQuery: string, signal: AbortSignal, bodyTimeoutMs: number): Promise<Body> {
    const r = await this.resolve()
    const headers: Record<string, string> = { accept: 'application/json' }
    const token = await r.token()
    if (token !== undefined) headers.authorization = `Bearer ${token}`
    // undici is loaded on first use: ~20 MB of RSS that a proxy without this source never needs.
    const { Agent, request } = await import('undici')
    this.agent ??= new Agent({ connect: { ca: r.ca, cert: r.cert, key: r.key } })
    const response = await request(`${r.server}${pathAndQuery}`, { method: 'GET', headers, signal, dispatcher: this.agent, bodyTimeout: bodyTimeoutMs })
    if (response.statusCode === 410) {
      await response.body.dump()
      throw new GoneError('410 Gone')
    }
    if (response.statusCode !== 200) {
      const text = (await response.body.text()).slice(0, 200)
      throw new KubernetesError('E_DISCOVERY_K8S_HTTP', `GET ${pathAndQuery.split('?')[0] ?? ''} answered ${response.statusCode}: ${text}`)
    }
    return response.body
  }

  async close (): Promise<void> {
    await this.agent?.close()
  }

  private resolve (): Promise<Resolved> {
    if (this.resolved === undefined) {
      const loading = this.load()
      this.resolved = loading
      // A failed resolution is retried on the next call (files may appear later).
      loading.catch(() => { if (this.resolved === loading) this.resolved = undefined })
    }
    return this.resolved
  }

  private async load (): Promise<Resolved> {
    const o = this.options
    const fromKubeconfig = o.kubeconfig !== undefined ? await readKubeconfig(o.kubeconfig) : undefined
    const inCluster = fromKubeconfig === undefined
    let server = o.apiServer ?? fromKubeconfig?.server
    if (server === undefined) {
      const host = process.env.KUBERNETES_SERVICE_HOST
      if (host === undefined) throw new KubernetesError('E_DISCOVERY_K8S_CREDENTIALS', 'no apiServer or kubeconfig given and KUBERNETES_SERVICE_HOST is not set')
      server = `https://${host.includes(':') ? `[${host}]` : host}:${process.env.KUBERNETES_SERVICE_PORT ?? '443'}`
    }
    server = server.replace(/\/+$/, '')
    let ca = o.ca ?? fromKubeconfig?.ca
    if (ca === undefined && server.startsWith('https:') && (o.caFile !== undefined || inCluster)) ca = await readText(o.caFile ?? `${SERVICE_ACCOUNT_DIR}/ca.crt`, 'CA')
    const tokenFile = o.tokenFile ?? fromKubeconfig?.tokenFile ?? (inCluster ? `${SERVICE_ACCOUNT_DIR}/token` : false)
    const fixedToken = o.token ?? fromKubeconfig?.token
    const token = fixedToken !== undefined
      ? async () => fixedToken
      : tokenFile === false ? async () => undefined : async () => (await readText(tokenFile, 'token')).trim()
    let namespace = o.namespace ?? fromKubeconfig?.namespace
    if (namespace === undefined && inCluster) namespace = (await readFile(`${SERVICE_ACCOUNT_DIR}/namespace`, 'utf8').catch(() => '')).trim()
    const resolved: Resolved = { server, token, namespace: namespace !== undefined && namespace !== '' ? namespace : 'default' }
    if (ca !== undefined) resolved.ca = ca
    if (fromKubeconfig?.cert !== undefined) resolved.cert = fromKubeconfig.cert
    if (fromKubeconfig?.key !== undefined) resolved.key = fromKubeconfig.key
    return resolved
  }
}

interface FromKubeconfig { server?: string, ca?: string, cert?: string, key?: string, token?: string, tokenFile?: string, namespace?: string }

type Named = Array<{ name?: unknown } & Record<string, unknown>>

function named (list: unknown, name: unknown, field: string): Record<string, unknown> | undefined {
  const found = Array.isArray(list) ? (list as Named).find((e) => e.name === name) : undefined
  const value = found?.[field]
  return typeof value === 'object' && value !== null ? value as Record<string, unknown> : undefined
}

/** The current context of a kubeconfig: server, CA, token or client certificate, namespace. */
export async function readKubeconfig (path: string): Promise<FromKubeconfig> {
  const base = dirname(resolve(path))
  const bad = (why: string): KubernetesError => new KubernetesError('E_DISCOVERY_K8S_CREDENTIALS', `kubeconfig ${path}: ${why}`)
  let doc: Record<string, unknown>
  try {
    doc = parseYaml(await readText(path, 'kubeconfig')) as Record<string, unknown>
  } catch (err) {
    if (err instanceof KubernetesError) throw err
    throw bad(`not YAML: ${(err as Error).message}`)
  }
  const contextName = doc['current-context']
  const context = named(doc.contexts, contextName, 'context')
  if (context === undefined) throw bad(`current-context ${String(contextName)} not found`)
  const cluster = named(doc.clusters, context.cluster, 'cluster')
  const user = named(doc.users, context.user, 'user') ?? {}
  if (cluster === undefined) throw bad(`cluster ${String(context.cluster)} not found`)
  if (user.exec !== undefined || user['auth-provider'] !== undefined) throw bad('exec and auth-provider credentials are not supported; give a token or client certificate')
  const pem = async (data: unknown, file: unknown, what: string): Promise<string | undefined> => {
    if (typeof data === 'string') return Buffer.from(data, 'base64').toString('utf8')
    if (typeof file === 'string') return await readText(resolve(base, file), what)
    return undefined
  }
  const out: FromKubeconfig = {}
  if (typeof cluster.server === 'string') out.server = cluster.server
  const ca = await pem(cluster['certificate-authority-data'], cluster['certificate-authority'], 'CA')
  const cert = await pem(user['client-certificate-data'], user['client-certificate'], 'client certificate')
  const key = await pem(user['client-key-data'], user['client-key'], 'client key')
  if (ca !== undefined) out.ca = ca
  if (cert !== undefined) out.cert = cert
  if (key !== undefined) out.key = key
  if (typeof user.token === 'string') out.token = user.token
  if (typeof user.tokenFile === 'string') out.tokenFile = resolve(base, user.tokenFile)
  if (typeof context.namespace === 'string') out.namespace = context.namespace
  return out
}
