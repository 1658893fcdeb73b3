/**
 * The validated, frozen shape of a meshgate config. YAML keys are the same camelCase names.
 * Durations are written in YAML as `250ms`, `5s`, `2m` (or a bare number of ms) and held here in ms.
 * Sizes are written as `64KiB`, `16MiB` (or a bare number of bytes) and held here in bytes.
 * Relative file paths are resolved against the config file's directory.
 */

import type { RateLimitConfig, RetryBudgetConfig, RouteConfig } from './route-types.js'

export type * from './route-types.js'

export type ListenerProtocol = 'auto' | 'tcp' | 'http1' | 'http2'
export type TargetProtocol = 'http1' | 'http2' | 'tcp'
export type TransportName = 'h2' | 'h3' | 'auto'
/**
 * Which engine carries peer h2 sessions: `native` (libnghttp2 + GnuTLS in the engine addon,
 * transports/h2-native), `js` (node:http2, transports/h2), or `auto`: native when the engine addon
 * loads, else js. Resolved once at start (src/data-plane.ts).
 */
export type DataPlaneSetting = 'native' | 'js' | 'auto'

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
  /**
   * More trust domains, each with its own CA in its own directory (multi-cluster). When present,
   * `<dir>/bundle.crt` holds this section's CA followed by theirs (a trust bundle for tls.ca).
   */
  trustDomains?: DevPkiDomainConfig[]
  /**
   * Lifetime of the workload certificates it issues, ms (default one year). A running proxy
   * renews them when a third of it is left, so a short one (`10m`) makes rotation visible.
   */
  certLifetimeMs?: number
}

/** Identity rotation: how the TLS files of each role are watched and checked (src/identity/rotation.ts). */
export interface IdentityConfig {
  /** Wait after the last file event before reading the files, ms (default 250 ms). */
  debounceMs: number
  /** Re-read and hash the files this often even without a file event, ms (default 10 s; 0 = never). */
  recheckMs: number
  /** Warn in the log when the certificate expires sooner than this, ms (default 24 h). */
  expiryWarningMs: number
}

/** One more trust domain of the development PKI: its CA and workloads in `dir`. */
export interface DevPkiDomainConfig {
  trustDomain: string
  dir: string
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
  /**
   * An app's HTTP/1 request head must be complete this long after accept (on keep-alive: after its
   * first byte), ms (default 10 s); else 408 E_HEADER_TIMEOUT and the connection closes.
   */
  headerReadMs: number
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

/** Tuning of the h3 transport (QUIC, RFC 9000 / RFC 9114) and of `auto` endpoint selection. */
export interface H3Tuning {
  /** Request streams a peer may have open on one session (initial_max_streams_bidi; default 1000). */
  maxConcurrentStreams: number
  /** QUIC max_idle_timeout, ms (default 30 s). */
  idleTimeoutMs: number
  /** PING after this much quiet, ms (default 10 s; 0 = off; below idleTimeoutMs). */
  keepAliveMs: number
  /** Close a session whose peer answered nothing this long with data unacknowledged, ms (default 5 s; 0 = idleTimeoutMs decides). */
  peerSilenceMs: number
  /** Per-stream receive window, bytes (default 6 MiB). */
  streamWindowBytes: number
  /** Connection receive window, bytes (default 16 MiB). */
  connectionWindowBytes: number
  /** Congestion control (default `bbr2`; docs/h3.md says why not cubic). */
  congestionControl: 'cubic' | 'reno' | 'bbr' | 'bbr2'
  /** UDP SO_RCVBUF asked of the kernel, bytes (default 4 MiB; capped by net.core.rmem_max). */
  recvBufferBytes: number
  /** UDP SO_SNDBUF asked of the kernel, bytes (default 4 MiB; capped by net.core.wmem_max). */
  sendBufferBytes: number
  /** `auto` endpoints: h3's head start before h2 joins the race, ms (default 150 ms). */
  autoHeadStartMs: number
  /** `auto` endpoints: after h3 failed to a peer, stay on h2 this long before trying h3 again, ms (default 5 min). */
  autoRetryH3Ms: number
}

export interface Limits {
  /** Max bytes of an HTTP/1 request head or h2 header block (default 64 KiB). */
  maxHeaderBytes: number
  /**
   * Requests an app connection may carry (HTTP/1: the last response says `connection: close` and
   * the connection closes; h2c: GOAWAY after that many streams). Absent: no limit (the default).
   */
  maxRequestsPerConnection?: number
}

export interface OutboundListenerConfig {
  name: string
  host: string
  port: number
  protocol: ListenerProtocol
  /** Service that opaque TCP on this listener goes to (required for `tcp`, used by `auto` fallback). */
  tcpService?: string
  /** Proxy-Wasm plugins run on this listener's HTTP requests, in order. */
  plugins?: PluginConfig[]
  /**
   * Transparent redirect (`meshgate redirect install`): route each connection by its original
   * destination (SO_ORIGINAL_DST) — a service's alias or endpoint IP:port — and pass unknown
   * destinations through as plain TCP (default false).
   */
  originalDestination?: boolean
}

/** One Proxy-Wasm plugin (src/plugins/): `{ name, wasm, config }` plus its limits. */
export interface PluginConfig {
  /** The plugin's root id (`registerRootContext(..., name)` in the SDKs); unique per list. */
  name: string
  /** Absolute path of the .wasm module. */
  wasm: string
  /** Handed to `proxy_on_configure`: a string as is, a map as JSON. */
  config: string | Record<string, unknown>
  /** Budget of one callback, ms (default 100 ms). */
  callTimeoutMs: number
  /** Linear memory limit of the plugin's VM, bytes (default 16 MiB). */
  maxMemory: number
  /** Traps and timeouts before the plugin is disabled (default 5). */
  maxTraps: number
  /** A disabled plugin is skipped instead of failing requests (default false). */
  failOpen: boolean
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
  /** Labels routes pick subsets by (e.g. `version: v2`). */
  labels?: Readonly<Record<string, string>>
}

export interface ServiceConfig {
  /** Authorities that route here besides the service name itself (e.g. `demo.local:4140`). */
  aliases: string[]
  /** Static endpoints (empty when `source` is set). */
  endpoints: EndpointConfig[]
  /** Name of the discovery source (`discovery.sources.<name>`) that serves this service instead. */
  source?: string
  /** The service lives in this remote cluster (`clusters.<name>`), reached through its gateway. */
  cluster?: string
  /** When every local endpoint is ejected (or none exists), traffic goes to this remote cluster. */
  failover?: string
  /** Routes, tried in order (first match wins); absent or none matching: the service as is. */
  routes?: RouteConfig[]
  /** The budget every route's retries of this service draw on (default 20 % + 10/s over 10 s). */
  retryBudget?: RetryBudgetConfig
}

/** A `file` discovery source: a YAML/JSON file of `services: { <name>: { endpoints: [...] } }`, watched. */
export interface FileSourceConfig {
  kind: 'file'
  /** Absolute once loaded. */
  path: string
  /** Quiet time after a change before rereading, ms (default 100 ms). */
  debounceMs?: number
}

/** How one service is looked up in DNS (see src/discovery/dns.ts for the templates). */
export interface DnsServiceConfig {
  /** Name to look up, e.g. `web.mesh.internal` or `_meshgate._tcp.web.mesh.internal`. */
  name: string
  type: 'A' | 'AAAA' | 'A+AAAA' | 'SRV'
  /** Peer port for A/AAAA answers (required for them). */
  port?: number
  /** SPIFFE ID the peers must present; `{address}`, `{port}`, `{host}` are filled in. */
  identity: string
  /** Workload address template (default `{address}:{port}`). */
  target?: string
  weight?: number
  transport?: TransportName
  zone?: string
}

/** A `dns` discovery source: A/AAAA/SRV lookups refreshed as TTLs allow. */
export interface DnsSourceConfig {
  kind: 'dns'
  /** Resolvers `ip` or `ip:port` (default: the system's). */
  servers?: string[]
  /** meshgate service name → lookup. */
  services: Record<string, DnsServiceConfig>
  /** Refresh bounds, ms (defaults 1 s and 5 min). */
  minRefreshMs?: number
  maxRefreshMs?: number
  /** TTL assumed for SRV answers, ms (default 30 s). */
  srvTtlMs?: number
  /** Retry after a failed or empty lookup, ms (default 5 s). */
  retryMs?: number
  /** Per-try resolver timeout, ms (default 2 s). */
  timeoutMs?: number
  /** Tries per lookup (default 2). */
  tries?: number
}

/** How one service maps to a Kubernetes Service's EndpointSlices. */
export interface KubernetesServiceConfig {
  /** The Kubernetes Service name. */
  name: string
  namespace?: string
  /** Port of the meshgate inbound listener on every pod. */
  peerPort: number
  /** Workload port of the slice, by name or number (default: the slice's first port). */
  targetPort?: string | number
  /** SPIFFE ID template: `{namespace}`, `{service}`, `{pod}`. */
  identity: string
  weight?: number
  transport?: TransportName
  /** Also use endpoints that are serving but not ready (default false). */
  includeNotReady?: boolean
}

/** A `kubernetes` discovery source: list + watch of discovery.k8s.io/v1 EndpointSlices. */
export interface KubernetesSourceConfig {
  kind: 'kubernetes'
  /** API server URL (default: in cluster, or the kubeconfig's). */
  apiServer?: string
  /** Paths, absolute once loaded. `tokenFile: false` sends no token. */
  tokenFile?: string | false
  caFile?: string
  kubeconfig?: string
  namespace?: string
  /** meshgate service name → Kubernetes Service. */
  services: Record<string, KubernetesServiceConfig>
  /** Backoff after a failure, ms (defaults 500 ms doubling to 30 s). */
  backoffInitialMs?: number
  backoffMaxMs?: number
  /** Server-side watch timeout, s (default 300). */
  watchTimeoutSeconds?: number
  /** Time allowed for a list answer, ms (default 10 s). */
  listTimeoutMs?: number
  /** Endpoints carry their Pod's labels, by a watch of the namespace's Pods (default true; RBAC: pods get/list/watch). */
  podLabels?: boolean
}

/** How one service is named to namerd. */
export interface NamerdServiceConfig {
  /** The path namerd resolves, e.g. `/svc/web`. */
  path: string
  /** SPIFFE ID template: `{address}`, `{port}`. */
  identity: string
  /** Peer port (default: the port namerd gives). */
  peerPort?: number
  /** Workload address template (default `{address}:{port}`). */
  target?: string
  transport?: TransportName
}

/** A `namerd` discovery source: resolve + watch through namerd's HTTP interface. */
export interface NamerdSourceConfig {
  kind: 'namerd'
  /** e.g. `http://127.0.0.1:4180`. */
  url: string
  /** Dtab namespace (default `default`). */
  namespace?: string
  services: Record<string, NamerdServiceConfig>
  /** First retry after a failure, ms (default 500 ms, doubling to 30 s). */
  retryMs?: number
}

export type DiscoverySourceConfig = FileSourceConfig | DnsSourceConfig | KubernetesSourceConfig | NamerdSourceConfig

export interface DiscoveryConfig {
  /** Sources by the name services refer to them with (`static` is reserved for inline endpoints). */
  sources: Record<string, DiscoverySourceConfig>
}

/** Tuning of every service's balancer stack (src/balance). */
export interface BalancingConfig {
  /** Request balancer: `peak-ewma` (default) or `round-robin` (latency-blind, for comparison). */
  requests: 'peak-ewma' | 'round-robin'
  peakEwma: {
    /** Time constant of the latency average's decay, ms (default 10 s). */
    decayMs: number
    /** Latency a new endpoint starts with, ms (default 30 ms). */
    defaultRttMs: number
  }
  failureAccrual: {
    /** Consecutive failures that eject an endpoint (default 5; 0 = off). */
    consecutiveFailures: number
    /** Failure share over the last `rateWindow` outcomes that ejects (default 0.5; above 1 = off). */
    failureRate: number
    /** Outcomes the rate is computed over (default 20). */
    rateWindow: number
    /** Outcomes needed before the rate counts (default 10). */
    rateMinRequests: number
    /** First ejection, ms (default 1 s); doubles per repeated ejection. */
    backoffInitialMs: number
    /** Longest ejection, ms (default 60 s). */
    backoffMaxMs: number
    /** Share of the backoff removed at random, 0..1 (default 0.2). */
    jitter: number
  }
  queue: {
    /** Longest a request or tunnel waits for an endpoint before 503 E_NO_ENDPOINT, ms (default 1 s). */
    maxWaitMs: number
    /** Callers allowed to wait at once (default 1000). */
    maxWaiting: number
  }
}

export interface InboundListenerConfig {
  host: string
  port: number
  /**
   * Also listen for h3 on the same port number over UDP. Absent: on when the QUIC addon is
   * available; `true` without the addon fails at start.
   */
  h3?: boolean
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
  /** Proxy-Wasm plugins run on every inbound HTTP request, in order. */
  plugins?: PluginConfig[]
  /** Local rate limiting of requests from peers (absent: none). */
  rateLimit?: RateLimitConfig
}

export interface AdminConfig {
  host: string
  port: number
  /**
   * What callers from other than loopback may use when `host` is not loopback: `read` (default)
   * serves them /ready, /live and /metrics only (kubelet probes, Prometheus); `full` serves them
   * everything, /shutdown, /log-level, /tap and /config included.
   */
  remoteAccess: 'read' | 'full'
}

/** Demo upstream for the embedded default config: HTTP/1 + h2c on one port, TCP echo on another. */
export interface DemoConfig {
  host: string
  httpPort: number
  tcpPort: number
  /**
   * Demo traffic through this process's first outbound listener, requests per second (0 = none,
   * the default), so the dashboard has something to show. Loopback only.
   */
  trafficPerSecond: number
  /** Authority the demo traffic asks for (default `demo.local`). */
  trafficAuthority: string
  /** The `version` field of the demo's JSON answers (default `v1`). */
  version: string
  /** More demo HTTP apps on `host`, each on its own port with its own version (canary demos). */
  instances: Array<{ httpPort: number, version: string }>
}

export interface MeshConfig {
  /** Absolute path of the file this came from (`<embedded default>` paths are real files too). */
  file: string
  log: {
    level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'
    /** One `access` log line per request and tunnel (default false). */
    access: boolean
    /** Share of requests and tunnels logged when `access` is on, 0–1 (default 1). */
    accessSampleRate: number
  }
  devPki?: DevPkiConfig
  identity: IdentityConfig
  /** The h2 data plane (default `auto`: native when the engine addon loads, else js). */
  dataPlane: DataPlaneSetting
  timeouts: Timeouts
  limits: Limits
  h2: H2Tuning
  h3: H3Tuning
  /** Grace period for in-flight work on SIGTERM / POST /shutdown, ms (default 30 s). */
  drainMs: number
  memory: {
    /** Give memory back once a burst of work ends (src/memory-relief.ts; default true). */
    releaseWhenIdle: boolean
  }
  metrics: {
    /** false: no metric families (default true). */
    enabled: boolean
    /** Distinct `authority` label values kept before new ones become `other` (default 100). */
    maxAuthorities: number
    /** Distinct identity label values kept before new ones become `other` (default 1000). */
    maxIdentities: number
  }
  services: Record<string, ServiceConfig>
  /** Delegation table for backends named by path (`/svc/web => /svc/web-v1`); absent: none. */
  dtab?: string
  /** Discovery sources services may name (absent: every service has static endpoints). */
  discovery?: DiscoveryConfig
  balancing: BalancingConfig
  outbound?: OutboundConfig
  inbound?: InboundConfig
  admin?: AdminConfig
  demo?: DemoConfig
  /** Remote clusters this process's outbound side reaches through their gateways. */
  clusters?: Record<string, RemoteClusterConfig>
  /** The gateway role: peer sessions from other clusters, forwarded to this cluster's inbounds. */
  gateway?: GatewayConfig
}

/** A remote cluster, as the outbound side sees it: its gateway and how to reach it. */
export interface RemoteClusterConfig {
  /** `host:port` of the cluster's gateway (h2 on TCP, h3 on UDP). */
  gateway: string
  /** SPIFFE ID the gateway must present. */
  identity: string
  /** Transport to the gateway (default `auto`: h3, falling back to h2). */
  transport: TransportName
  /** How often the gateway's exported services are read again, ms (default 5 s). */
  refreshMs: number
}

/** One service the gateway exports to other clusters. */
export interface GatewayExportConfig {
  /** Callers (SPIFFE IDs, trust domains `spiffe://td`, or `*`) allowed to reach it. */
  allow: string[]
  /**
   * `e2e` (default): callers run their own mTLS session with the final inbound inside a CONNECT
   * tunnel; the gateway sees ciphertext. `terminate`: the gateway reads the requests and
   * re-originates them under its own identity.
   */
  mode: 'e2e' | 'terminate'
}

export interface GatewayConfig {
  /** The gateway's own identity, and the CA of this cluster (for the hop to local inbounds). */
  tls: TlsFiles
  /** One port each: h2 on TCP and (where the QUIC addon loads, unless `h3: false`) h3 on UDP. */
  listeners: InboundListenerConfig[]
  /** Trust domains whose workloads may call, each with its own root CA (PEM file). */
  trustDomains: Record<string, { ca: string }>
  /** Services of this cluster (names in `services`) reachable through the gateway. */
  exports: Record<string, GatewayExportConfig>
}
