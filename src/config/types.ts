/**
 * The validated, frozen shape of a meshgate config. YAML keys are the same camelCase names.
 * Durations are written in YAML as `250ms`, `5s`, `2m` (or a bare number of ms) and held here in ms.
 * Sizes are written as `64KiB`, `16MiB` (or a bare number of bytes) and held here in bytes.
 * Relative file paths are resolved against the config file's directory.
 */

export type ListenerProtocol = 'auto' | 'tcp' | 'http1' | 'http2'
export type TargetProtocol = 'http1' | 'http2' | 'tcp'
export type TransportName = 'h2' | 'h3' | 'auto'

/** PEM file paths (absolute once loaded). */
export interface TlsFiles {
  ca: string
  cert: string
  key: string
}

/** A development PKI generated on first start and reused afterwards. */
export interface DevPkiConfig {
  /** Directory holding ca.crt/ca.key and `<workload>.crt`/`<workload>.key`. */
  dir: string
  /** SPIFFE trust domain, default `mesh.local`. */
  trustDomain: string
  /** Workload names; each gets `spiffe://<trustDomain>/ns/default/sa/<name>`. */
  workloads: string[]
}

export interface Timeouts {
  /** Peer connect + handshake, ms (default 5 s). */
  connectMs: number
  /** From request sent to response head, ms (default 30 s; 0 = none). */
  requestMs: number
  /** No bytes either way on a stream or tunnel, ms (default 300 s; 0 = none). */
  idleMs: number
  /** Protocol detection: wait for first bytes before treating as opaque TCP, ms (default 1 s). */
  detectMs: number
}

/** Tuning of the h2 transport. */
export interface H2Tuning {
  /** HTTP/2 connection-level receive window, bytes (default 16 MiB). */
  connectionWindowBytes: number
  /** HTTP/2 per-stream initial window, bytes (default 4 MiB). */
  streamWindowBytes: number
  /** Max concurrent streams a session offers / uses (default 1000). */
  maxConcurrentStreams: number
  /** Keep-alive PING interval, ms (default 10 s; 0 = off). */
  keepAliveMs: number
  /** A PING unanswered this long kills the session, ms (default 5 s). */
  keepAliveTimeoutMs: number
}

export interface Limits {
  /** Max bytes of an HTTP/1 request head or h2 header block (default 64 KiB). */
  maxHeaderBytes: number
}

export interface OutboundListenerConfig {
  name: string
  host: string
  port: number
  protocol: ListenerProtocol
  /** Service that opaque TCP on this listener goes to (required for `tcp`, used by `auto` fallback). */
  tcpService?: string
}

export interface OutboundConfig {
  tls: TlsFiles
  listeners: OutboundListenerConfig[]
}

/** One endpoint of a service: a peer proxy and the workload behind it. */
export interface EndpointConfig {
  /** Peer proxy address `host:port`. */
  peer: string
  /** SPIFFE identity the peer must present. */
  identity: string
  /** Workload address the peer delivers to, `host:port` (sent as `meshgate-target`). */
  target: string
  /** Relative weight, default 1. */
  weight: number
  transport: TransportName
}

export interface ServiceConfig {
  /** Authorities that route here besides the service name itself (e.g. `demo.local:4140`). */
  aliases: string[]
  endpoints: EndpointConfig[]
}

export interface InboundListenerConfig {
  host: string
  port: number
}

export interface InboundTargetConfig {
  /** `host:port` of the local workload. */
  address: string
  protocol: TargetProtocol | 'auto'
  /** SPIFFE IDs (`spiffe://td/ns/x/sa/y`) or whole trust domains (`spiffe://td`) allowed to call. */
  allow: string[]
}

export interface InboundConfig {
  tls: TlsFiles
  listeners: InboundListenerConfig[]
  targets: InboundTargetConfig[]
}

export interface AdminConfig {
  host: string
  port: number
}

/** Demo upstream for the embedded default config: HTTP/1 + h2c on one port, TCP echo on another. */
export interface DemoConfig {
  host: string
  httpPort: number
  tcpPort: number
}

export interface MeshConfig {
  /** Absolute path of the file this came from (`<embedded default>` paths are real files too). */
  file: string
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' }
  devPki?: DevPkiConfig
  timeouts: Timeouts
  limits: Limits
  h2: H2Tuning
  /** Grace period for in-flight work on SIGTERM / POST /shutdown, ms (default 30 s). */
  drainMs: number
  services: Record<string, ServiceConfig>
  outbound?: OutboundConfig
  inbound?: InboundConfig
  admin?: AdminConfig
  demo?: DemoConfig
}
