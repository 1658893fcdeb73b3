/**
 * The schema of a meshgate YAML file, field by field; parsing it yields MeshConfig (minus `file`)
 * with defaults applied, units converted and paths made absolute.
 */
import type { MeshConfig, OutboundListenerConfig } from './types.js'
import { DEFAULTS } from './defaults.js'
import { isAllowEntry, isAuthority, isHost, isSpiffeId, isTrustDomain, parseHostPort } from './address.js'
import {
  duration, filePath, integer, list, map, object, oneOf, optional, orFalse, refine, required, size, string,
  withDefault, type Schema,
} from './schema.js'

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
})

const timeouts = object({
  connectMs: withDefault(duration(1), DEFAULTS.timeouts.connectMs),
  requestMs: withDefault(duration(0), DEFAULTS.timeouts.requestMs),
  idleMs: withDefault(duration(0), DEFAULTS.timeouts.idleMs),
  detectMs: withDefault(duration(1, 60_000), DEFAULTS.timeouts.detectMs),
})

const limits = object({
  maxHeaderBytes: withDefault(size(1024, 16 * 1024 * 1024), DEFAULTS.limits.maxHeaderBytes),
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

const endpoint = object({
  peer: required(hostPort),
  identity: required(workloadId),
  target: required(hostPort),
  weight: withDefault(integer(0, 1_000_000), DEFAULTS.endpoint.weight),
  transport: withDefault(oneOf(['h2', 'h3', 'auto'] as const), DEFAULTS.endpoint.transport),
})

const service = object({
  aliases: withDefault(list(authority), []),
  endpoints: required(list(endpoint, 1)),
})

// A listener without a name is named after its address.
const outboundListener: Schema<OutboundListenerConfig> = refine(object({
  name: optional(name),
  host: required(host),
  port: required(listenPort),
  protocol: withDefault(oneOf(['auto', 'tcp', 'http1', 'http2'] as const), DEFAULTS.outboundListener.protocol),
  tcpService: optional(name),
}), (l) => ({ ...l, name: l.name ?? `${l.host}:${l.port}` }))

const outbound = object({
  tls: required(tlsFiles),
  listeners: required(list(outboundListener, 1)),
})

const inbound = object({
  tls: required(tlsFiles),
  listeners: required(list(object({ host: required(host), port: required(listenPort) }), 1)),
  targets: required(list(object({
    address: required(hostPort),
    protocol: withDefault(oneOf(['auto', 'http1', 'http2', 'tcp'] as const), DEFAULTS.inboundTarget.protocol),
    allow: required(list(allowEntry, 1)),
  }), 1)),
})

const admin = object({
  host: withDefault(host, DEFAULTS.admin.host),
  port: withDefault(listenPort, DEFAULTS.admin.port),
})

const demo = object({
  host: withDefault(host, DEFAULTS.demo.host),
  httpPort: withDefault(listenPort, DEFAULTS.demo.httpPort),
  tcpPort: withDefault(listenPort, DEFAULTS.demo.tcpPort),
})

/** The whole file. Typed against MeshConfig, so the schema and types.ts cannot drift apart. */
export const meshConfigSchema: Schema<Omit<MeshConfig, 'file'>> = object({
  log: withDefault(object({
    level: withDefault(oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const), DEFAULTS.log.level),
  }), {}),
  devPki: optional(devPki),
  timeouts: withDefault(timeouts, {}),
  limits: withDefault(limits, {}),
  h2: withDefault(h2, {}),
  drainMs: withDefault(duration(0), DEFAULTS.drainMs),
  services: withDefault(map(service, name), {}),
  outbound: optional(outbound),
  inbound: optional(inbound),
  admin: withDefault(orFalse(admin), {}),
  demo: optional(demo),
})
