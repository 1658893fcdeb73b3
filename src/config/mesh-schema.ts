/**
 * The schema of a meshgate YAML file, field by field; parsing it yields MeshConfig (minus `file`)
 * with defaults applied, units converted and paths made absolute.
 */
import { isIP } from 'node:net'
import type { DiscoverySourceConfig, MeshConfig, OutboundListenerConfig, ServiceConfig } from './types.js'
import { DEFAULTS } from './defaults.js'
import { isAllowEntry, isAuthority, isHost, isSpiffeId, isTrustDomain, parseHostPort } from './address.js'
import {
  boolean, decimal, duration, fail, filePath, integer, INVALID, leaf, list, map, object, oneOf, optional, orFalse,
  refine, required, size, string, tagged, withDefault, type Schema,
} from './schema.js'
import { clusters, devPkiDomain, gateway } from './multicluster-schema.js'
import { pluginList } from './plugin-schema.js'
import { labels, rateLimit, retryBudget, routes } from './route-schema.js'
import { parseDtab } from '../route/dtab.js'

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/

const name = string('a name (letters, digits, ".", "-", "_")', (v) => NAME.test(v))
const host = string('a host name or IP address', isHost)
const listenPort = integer(0, 65535, 'a port 0–65535')
const hostPort = string('"host:port" (port 1–65535; IPv6 as [::1]:port)', (v) => parseHostPort(v) !== undefined)
const workloadId = string('a SPIFFE ID like spiffe://mesh.local/ns/default/sa/name', isSpiffeId)
const allowEntry = string('a SPIFFE ID, a trust domain like spiffe://mesh.local, or "*"', isAllowEntry)
const authority = string('an authority: host or host:port', isAuthority)

const tlsFiles = object({
  ca: required(filePath('a path to a PEM file')),
  cert: required(filePath('a path to a PEM file')),
  key: required(filePath('a path to a PEM file')),
})

const devPki = object({
  dir: required(filePath('a directory path')),
  trustDomain: withDefault(string('a trust domain (lowercase letters, digits, ".", "-", "_")', isTrustDomain), DEFAULTS.devPki.trustDomain),
  workloads: required(list(name, 1)),
  trustDomains: optional(list(devPkiDomain, 1)),
  certLifetimeMs: optional(duration(60_000, 3650 * 86_400_000)),
})

const identity = object({
  debounceMs: withDefault(duration(0, 60_000), DEFAULTS.identity.debounceMs),
  recheckMs: withDefault(duration(0), DEFAULTS.identity.recheckMs),
  expiryWarningMs: withDefault(duration(0, 3650 * 86_400_000), DEFAULTS.identity.expiryWarningMs),
})

const timeouts = object({
  connectMs: withDefault(duration(1), DEFAULTS.timeouts.connectMs),
  requestMs: withDefault(duration(0), DEFAULTS.timeouts.requestMs),
  idleMs: withDefault(duration(0), DEFAULTS.timeouts.idleMs),
  detectMs: withDefault(duration(1, 60_000), DEFAULTS.timeouts.detectMs),
  headerReadMs: withDefault(duration(1, 3_600_000), DEFAULTS.timeouts.headerReadMs),
})

const limits = object({
  maxHeaderBytes: withDefault(size(1024, 16 * 1024 * 1024), DEFAULTS.limits.maxHeaderBytes),
  maxRequestsPerConnection: optional(integer(1, 2 ** 31 - 1, 'a whole number of requests 1–2147483647')),
})

// RFC 9113 §6.5.2 / §6.9.2: windows are at most 2^31-1; the initial stream window is at least 64 KiB - 1.
const H2_WINDOW_MAX = 2 ** 31 - 1
const h2 = object({
  connectionWindowBytes: withDefault(size(65_535, H2_WINDOW_MAX), DEFAULTS.h2.connectionWindowBytes),
  streamWindowBytes: withDefault(size(65_535, H2_WINDOW_MAX), DEFAULTS.h2.streamWindowBytes),
  maxConcurrentStreams: withDefault(integer(1, H2_WINDOW_MAX), DEFAULTS.h2.maxConcurrentStreams),
  keepAliveMs: withDefault(duration(0), DEFAULTS.h2.keepAliveMs),
  keepAliveTimeoutMs: withDefault(duration(1), DEFAULTS.h2.keepAliveTimeoutMs),
})

// RFC 9000 §4.6 / §18.2: stream and window limits are variable-length integers; buffers are ints.
const h3 = object({
  maxConcurrentStreams: withDefault(integer(1, 2 ** 31 - 1), DEFAULTS.h3.maxConcurrentStreams),
  idleTimeoutMs: withDefault(duration(1), DEFAULTS.h3.idleTimeoutMs),
  keepAliveMs: withDefault(duration(0), DEFAULTS.h3.keepAliveMs),
  peerSilenceMs: withDefault(duration(0), DEFAULTS.h3.peerSilenceMs),
  streamWindowBytes: withDefault(size(1024, 2 ** 31 - 1), DEFAULTS.h3.streamWindowBytes),
  connectionWindowBytes: withDefault(size(1024, 2 ** 31 - 1), DEFAULTS.h3.connectionWindowBytes),
  congestionControl: withDefault(oneOf(['cubic', 'reno', 'bbr', 'bbr2'] as const), DEFAULTS.h3.congestionControl),
  recvBufferBytes: withDefault(size(4096, 2 ** 31 - 1), DEFAULTS.h3.recvBufferBytes),
  sendBufferBytes: withDefault(size(4096, 2 ** 31 - 1), DEFAULTS.h3.sendBufferBytes),
  autoHeadStartMs: withDefault(duration(0, 10_000), DEFAULTS.h3.autoHeadStartMs),
  autoRetryH3Ms: withDefault(duration(0), DEFAULTS.h3.autoRetryH3Ms),
})

const endpoint = object({
  peer: required(hostPort),
  identity: required(workloadId),
  target: required(hostPort),
  weight: withDefault(integer(0, 1_000_000), DEFAULTS.endpoint.weight),
  transport: withDefault(oneOf(['h2', 'h3', 'auto'] as const), DEFAULTS.endpoint.transport),
  labels: optional(labels),
})

// A service has static endpoints or names a discovery source, never both.
const service: Schema<ServiceConfig> = refine(object({
  aliases: withDefault(list(authority), []),
  endpoints: optional(list(endpoint, 1)),
  source: optional(name),
  cluster: optional(name),
  failover: optional(name),
  routes: optional(routes),
  retryBudget: optional(retryBudget),
}), (s, path, ctx) => {
  if (s.cluster !== undefined) {
    // A remote service: its endpoints come from the cluster's gateway.
    if (s.endpoints !== undefined) return fail(ctx, [...path, 'endpoints'], 'a list', 'no endpoints when cluster is set (the gateway of the cluster serves them)')
    if (s.source !== undefined) return fail(ctx, [...path, 'source'], s.source, 'no source when cluster is set (the gateway of the cluster serves the endpoints)')
    if (s.failover !== undefined) return fail(ctx, [...path, 'failover'], s.failover, 'no failover when cluster is set (failover is for services with local endpoints)')
    return { aliases: s.aliases, endpoints: [], cluster: s.cluster }
  }
  if (s.endpoints === undefined && s.source === undefined) return fail(ctx, [...path, 'endpoints'], undefined, 'a list (at least 1) of endpoints, or source: <a name in discovery.sources> (or cluster: <a name in clusters>)')
  if (s.endpoints !== undefined && s.source !== undefined) return fail(ctx, [...path, 'source'], s.source, 'no source when endpoints are listed (one or the other)')
  const out: ServiceConfig = { aliases: s.aliases, endpoints: s.endpoints ?? [] }
  if (s.source !== undefined) out.source = s.source
  if (s.failover !== undefined) out.failover = s.failover
  if (s.routes !== undefined) out.routes = s.routes
  if (s.retryBudget !== undefined) out.retryBudget = s.retryBudget
  return out
})

// Discovery sources. Option names are those of the sources (src/discovery), durations in ms.
const port = integer(1, 65535, 'a port 1–65535')
const weight = integer(1, 1_000_000)
const transport = oneOf(['h2', 'h3', 'auto'] as const)
const identityTemplate = string('a SPIFFE ID (placeholders allowed) like spiffe://mesh.local/ns/default/sa/web', (v) => /^spiffe:\/\/[^\s/]+\/\S*$/.test(v))
const dnsName = string('a DNS name like web.mesh.internal or _meshgate._tcp.web.mesh.internal', (v) => /^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9.])?$/.test(v) && v.length <= 253)
const resolverAddress = string('a resolver IP address, optionally with a port (10.0.0.2, 127.0.0.1:5353, [::1]:53)', (v) => {
  if (isIP(v) !== 0) return true
  const hp = parseHostPort(v)
  return hp !== undefined && isIP(hp.host) !== 0
})
const kubeName = string('a Kubernetes name (lowercase letters, digits, "-")', (v) => /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(v) && v.length <= 63)
const targetPort = leaf<string | number>('a port name or number 1–65535', (v) =>
  (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535) || (typeof v === 'string' && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(v)) ? v : undefined)
const tokenFile: Schema<string | false> = {
  expected: 'a path to a token file, or false (send no token)',
  parse: (value, path, ctx) => value === false ? false : filePath('a path to a token file, or false (send no token)').parse(value, path, ctx),
}

/** For each `[lower, upper]` pair, lower ≤ upper in a parsed object, else a problem at `lower`'s path. */
function ordered<T extends object> (schema: Schema<T>, ...pairs: Array<[keyof T & string, keyof T & string]>): Schema<T> {
  return refine(schema, (v, path, ctx) => {
    let ok = true
    for (const [lower, upper] of pairs) {
      const a = v[lower]
      const b = v[upper]
      if (typeof a === 'number' && typeof b === 'number' && a > b) {
        fail(ctx, [...path, lower], a, `at most ${upper} (${b})`)
        ok = false
      }
    }
    return ok ? v : INVALID
  })
}

const dnsService = refine(object({
  name: required(dnsName),
  type: required(oneOf(['A', 'AAAA', 'A+AAAA', 'SRV'] as const)),
  port: optional(port),
  identity: required(identityTemplate),
  target: optional(string('a host:port template like {address}:8080', (v) => v.includes(':'))),
  weight: optional(weight),
  transport: optional(transport),
  zone: optional(string()),
}), (s, path, ctx) => s.type !== 'SRV' && s.port === undefined ? fail(ctx, [...path, 'port'], undefined, `a port 1–65535 (${s.type} answers carry none)`) : s)

const fileSource = object({
  kind: required(oneOf(['file'] as const)),
  path: required(filePath('a path to a YAML or JSON file')),
  debounceMs: optional(duration(0, 60_000)),
})

const dnsSource = ordered(object({
  kind: required(oneOf(['dns'] as const)),
  servers: optional(list(resolverAddress, 1)),
  services: required(map(dnsService, name)),
  minRefreshMs: optional(duration(1)),
  maxRefreshMs: optional(duration(1)),
  srvTtlMs: optional(duration(1)),
  retryMs: optional(duration(1)),
  timeoutMs: optional(duration(1, 60_000)),
  tries: optional(integer(1, 10)),
}), ['minRefreshMs', 'maxRefreshMs'])

const kubernetesService = object({
  name: required(kubeName),
  namespace: optional(kubeName),
  peerPort: required(port),
  targetPort: optional(targetPort),
  identity: required(identityTemplate),
  weight: optional(weight),
  transport: optional(transport),
  includeNotReady: optional(boolean()),
})

const kubernetesSource = ordered(object({
  kind: required(oneOf(['kubernetes'] as const)),
  apiServer: optional(string('an API server URL like https://10.96.0.1:443', (v) => /^https?:\/\/[^\s/]+\/?$/.test(v))),
  tokenFile: optional(tokenFile),
  caFile: optional(filePath('a path to a PEM file')),
  kubeconfig: optional(filePath('a path to a kubeconfig file')),
  namespace: optional(kubeName),
  services: required(map(kubernetesService, name)),
  backoffInitialMs: optional(duration(1)),
  backoffMaxMs: optional(duration(1)),
  watchTimeoutSeconds: optional(integer(1, 3600)),
  listTimeoutMs: optional(duration(1)),
  podLabels: optional(boolean()),
}), ['backoffInitialMs', 'backoffMaxMs'])

const namerdSource = object({
  kind: required(oneOf(['namerd'] as const)),
  url: required(string('an http URL like http://127.0.0.1:4180', (v) => /^http:\/\/[^\s/]+\/?$/.test(v))),
  namespace: optional(string('a dtab namespace name', (v) => /^[A-Za-z0-9][\w.-]*$/.test(v))),
  services: required(map(object({
    path: required(string('a path like /svc/web', (v) => /^(\/[^\s/]+)+$/.test(v))),
    identity: required(identityTemplate),
    peerPort: optional(port),
    target: optional(string('a host:port template like {address}:8080', (v) => v.includes(':'))),
    transport: optional(transport),
  }), name)),
  retryMs: optional(duration(1, 60_000)),
})

const discoverySource: Schema<DiscoverySourceConfig> = tagged<DiscoverySourceConfig>('kind', {
  file: fileSource,
  dns: dnsSource,
  kubernetes: kubernetesSource,
  namerd: namerdSource,
})

const discovery = object({
  sources: withDefault(map(discoverySource, name), {}),
})

const D = DEFAULTS.balancing
const balancing = object({
  requests: withDefault(oneOf(['peak-ewma', 'round-robin'] as const), D.requests),
  peakEwma: withDefault(object({
    decayMs: withDefault(duration(1), D.peakEwma.decayMs),
    defaultRttMs: withDefault(duration(1, 60_000), D.peakEwma.defaultRttMs),
  }), {}),
  failureAccrual: withDefault(ordered(object({
    consecutiveFailures: withDefault(integer(0, 10_000, 'an integer 0–10000 (0 = off)'), D.failureAccrual.consecutiveFailures),
    failureRate: withDefault(decimal(0.01, 100, 'a share 0.01–1 (above 1 turns the rate check off)'), D.failureAccrual.failureRate),
    rateWindow: withDefault(integer(1, 10_000), D.failureAccrual.rateWindow),
    rateMinRequests: withDefault(integer(1, 10_000), D.failureAccrual.rateMinRequests),
    backoffInitialMs: withDefault(duration(1), D.failureAccrual.backoffInitialMs),
    backoffMaxMs: withDefault(duration(1), D.failureAccrual.backoffMaxMs),
    jitter: withDefault(decimal(0, 1, 'a share 0–1'), D.failureAccrual.jitter),
  }), ['backoffInitialMs', 'backoffMaxMs'], ['rateMinRequests', 'rateWindow']), {}),
  queue: withDefault(object({
    maxWaitMs: withDefault(duration(0, 600_000), D.queue.maxWaitMs),
    maxWaiting: withDefault(integer(0, 1_000_000), D.queue.maxWaiting),
  }), {}),
})

// A listener without a name is named after its address.
const outboundListener: Schema<OutboundListenerConfig> = refine(object({
  name: optional(name),
  host: required(host),
  port: required(listenPort),
  protocol: withDefault(oneOf(['auto', 'tcp', 'http1', 'http2'] as const), DEFAULTS.outboundListener.protocol),
  tcpService: optional(name),
  plugins: optional(pluginList),
  originalDestination: optional(boolean()),
}), (l) => ({ ...l, name: l.name ?? `${l.host}:${l.port}` }))

const outbound = object({
  tls: required(tlsFiles),
  listeners: required(list(outboundListener, 1)),
})

const inbound = object({
  tls: required(tlsFiles),
  listeners: required(list(object({ host: required(host), port: required(listenPort), h3: optional(boolean()) }), 1)),
  targets: required(list(object({
    address: required(hostPort),
    protocol: withDefault(oneOf(['auto', 'http1', 'http2', 'tcp'] as const), DEFAULTS.inboundTarget.protocol),
    allow: required(list(allowEntry, 1)),
  }), 1)),
  plugins: optional(pluginList),
  rateLimit: optional(rateLimit),
})

const admin = object({
  host: withDefault(host, DEFAULTS.admin.host),
  port: withDefault(listenPort, DEFAULTS.admin.port),
  remoteAccess: withDefault(oneOf(['read', 'full'] as const), DEFAULTS.admin.remoteAccess),
})

const demo = object({
  host: withDefault(host, DEFAULTS.demo.host),
  httpPort: withDefault(listenPort, DEFAULTS.demo.httpPort),
  tcpPort: withDefault(listenPort, DEFAULTS.demo.tcpPort),
  trafficPerSecond: withDefault(decimal(0, 100), DEFAULTS.demo.trafficPerSecond),
  trafficAuthority: withDefault(string('an authority'), DEFAULTS.demo.trafficAuthority),
  version: withDefault(string('a version name like v1'), 'v1'),
  instances: withDefault(list(object({ httpPort: required(listenPort), version: required(string('a version name like v2')) })), []),
})

/** A dtab (`/svc => /#; /svc/web => 1 * /svc/web-v2 & 9 * /svc/web-v1`) that parses. */
const dtab: Schema<string> = {
  expected: 'a dtab: entries "prefix => tree" separated by ";"',
  parse: (value, path, ctx) => {
    if (typeof value !== 'string') return fail(ctx, path, value, 'a dtab: entries "prefix => tree" separated by ";"')
    try {
      parseDtab(value)
      return value
    } catch (err) {
      return fail(ctx, path, value, `a dtab that parses (${err instanceof Error ? err.message : String(err)})`)
    }
  },
}

/** The whole file. Typed against MeshConfig, so the schema and types.ts cannot drift apart. */
export const meshConfigSchema: Schema<Omit<MeshConfig, 'file'>> = object({
  log: withDefault(object({
    level: withDefault(oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const), DEFAULTS.log.level),
    access: withDefault(boolean(), DEFAULTS.log.access),
    accessSampleRate: withDefault(decimal(0, 1), DEFAULTS.log.accessSampleRate),
  }), {}),
  devPki: optional(devPki),
  identity: withDefault(identity, {}),
  dataPlane: withDefault(oneOf(['native', 'js', 'auto'] as const), DEFAULTS.dataPlane),
  timeouts: withDefault(timeouts, {}),
  limits: withDefault(limits, {}),
  h2: withDefault(h2, {}),
  h3: withDefault(h3, {}),
  drainMs: withDefault(duration(0), DEFAULTS.drainMs),
  memory: withDefault(object({
    releaseWhenIdle: withDefault(boolean(), DEFAULTS.memory.releaseWhenIdle),
  }), {}),
  metrics: withDefault(object({
    enabled: withDefault(boolean(), DEFAULTS.metrics.enabled),
    maxAuthorities: withDefault(integer(1, 1_000_000), DEFAULTS.metrics.maxAuthorities),
    maxIdentities: withDefault(integer(1, 1_000_000), DEFAULTS.metrics.maxIdentities),
  }), {}),
  services: withDefault(map(service, name), {}),
  dtab: optional(dtab),
  discovery: optional(discovery),
  balancing: withDefault(balancing, {}),
  outbound: optional(outbound),
  inbound: optional(inbound),
  admin: withDefault(orFalse(admin), {}),
  demo: optional(demo),
  clusters: optional(clusters),
  gateway: optional(gateway),
})
