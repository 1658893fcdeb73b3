/**
 * The multi-cluster parts of the config schema: remote clusters (`clusters`), the gateway role
 * (`gateway`) and the dev PKI's further trust domains. Apart from mesh-schema.ts so that file
 * only gains the keys that point here.
 */
import type { DevPkiDomainConfig, GatewayConfig, RemoteClusterConfig } from './types.js'
import { isAllowEntry, isHost, isSpiffeId, isTrustDomain, parseHostPort } from './address.js'
import { duration, filePath, integer, list, map, object, oneOf, optional, required, string, boolean, withDefault, type Schema } from './schema.js'

/** Defaults of the multi-cluster keys, in the units the config holds. */
export const MULTICLUSTER_DEFAULTS = {
  transport: 'auto', // h3 first, h2 when UDP or h3 fails
  refreshMs: 5_000, // 5 s between reads of a gateway's exports
  mode: 'e2e', // the gateway sees only ciphertext
} as const

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/
const name = string('a name (letters, digits, ".", "-", "_")', (v) => NAME.test(v))
const trustDomain = string('a trust domain (lowercase letters, digits, ".", "-", "_")', isTrustDomain)
const hostPort = string('"host:port" (port 1–65535; IPv6 as [::1]:port)', (v) => parseHostPort(v) !== undefined)
const allowEntry = string('a SPIFFE ID, a trust domain like spiffe://mesh.local, or "*"', isAllowEntry)
const pem = filePath('a path to a PEM file')

export const devPkiDomain: Schema<DevPkiDomainConfig> = object({
  trustDomain: required(trustDomain),
  dir: required(filePath('a directory path')),
  workloads: withDefault(list(name), []),
})

const remoteCluster: Schema<RemoteClusterConfig> = object({
  gateway: required(hostPort),
  identity: required(string('a SPIFFE ID like spiffe://east.local/ns/default/sa/gateway', isSpiffeId)),
  transport: withDefault(oneOf(['h2', 'h3', 'auto'] as const), MULTICLUSTER_DEFAULTS.transport),
  refreshMs: withDefault(duration(10), MULTICLUSTER_DEFAULTS.refreshMs),
})

export const clusters: Schema<Record<string, RemoteClusterConfig>> = map(remoteCluster, name)

export const gateway: Schema<GatewayConfig> = object({
  tls: required(object({ ca: required(pem), cert: required(pem), key: required(pem) })),
  listeners: required(list(object({
    host: required(string('a host name or IP address', isHost)),
    port: required(integer(0, 65535, 'a port 0–65535')),
    h3: optional(boolean()),
  }), 1)),
  trustDomains: required(map(object({ ca: required(pem) }), trustDomain)),
  exports: required(map(object({
    allow: required(list(allowEntry, 1)),
    mode: withDefault(oneOf(['e2e', 'terminate'] as const), MULTICLUSTER_DEFAULTS.mode),
  }), name)),
})
