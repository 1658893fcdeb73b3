/**
 * The one defaults object: every value a config may leave out, in the units MeshConfig holds.
 */

/** Defaults applied by loadConfig; sections absent from the YAML stay absent unless noted. */
export const DEFAULTS = {
  log: {
    level: 'info',
    access: false, // one log line per request / tunnel, off by default
    accessSampleRate: 1, // share of requests logged when access is on (0–1)
  },
  dataPlane: 'auto', // native when the engine addon loads, else js
  timeouts: {
    connectMs: 5_000, // 5 s
    requestMs: 30_000, // 30 s (0 = none)
    idleMs: 300_000, // 300 s (0 = none)
    detectMs: 1_000, // 1 s
    headerReadMs: 10_000, // 10 s: an app's HTTP/1 request head complete, from accept (keep-alive: from its first byte)
  },
  limits: {
    maxHeaderBytes: 64 * 1024, // 64 KiB
    // maxRequestsPerConnection: off unless set
  },
  h2: {
    connectionWindowBytes: 16 * 1024 * 1024, // 16 MiB
    streamWindowBytes: 4 * 1024 * 1024, // 4 MiB
    maxConcurrentStreams: 1000,
    keepAliveMs: 10_000, // 10 s (0 = off)
    keepAliveTimeoutMs: 5_000, // 5 s
  },
  h3: {
    maxConcurrentStreams: 1000,
    idleTimeoutMs: 30_000, // 30 s
    keepAliveMs: 10_000, // 10 s (0 = off)
    peerSilenceMs: 5_000, // 5 s (0 = wait for idleTimeoutMs)
    streamWindowBytes: 6 * 1024 * 1024, // 6 MiB
    connectionWindowBytes: 16 * 1024 * 1024, // 16 MiB
    congestionControl: 'bbr2', // libngtcp2 0.12's cubic stalls on sub-100 µs paths (docs/h3.md)
    recvBufferBytes: 4 * 1024 * 1024, // 4 MiB (capped by net.core.rmem_max)
    sendBufferBytes: 4 * 1024 * 1024, // 4 MiB (capped by net.core.wmem_max)
    autoHeadStartMs: 150, // 150 ms
    autoRetryH3Ms: 300_000, // 5 min
  },
  drainMs: 30_000, // 30 s
  memory: {
    releaseWhenIdle: true, // give memory back once a burst of work ends (src/memory-relief.ts)
  },
  metrics: {
    enabled: true, // false: no metric families at all (the bench's cost switch)
    maxAuthorities: 100, // distinct authority labels kept; later ones become "other"
    maxIdentities: 1000, // distinct identity labels kept; later ones become "other"
  },
  /** The same values as the balancers' own defaults (src/balance; a test keeps them in step). */
  balancing: {
    requests: 'peak-ewma',
    peakEwma: {
      decayMs: 10_000, // 10 s
      defaultRttMs: 30, // 30 ms
    },
    failureAccrual: {
      consecutiveFailures: 5, // 0 = off
      failureRate: 0.5, // above 1 = off
      rateWindow: 20, // outcomes
      rateMinRequests: 10, // outcomes
      backoffInitialMs: 1_000, // 1 s, doubling per repeated ejection
      backoffMaxMs: 60_000, // 60 s
      jitter: 0.2, // share of the backoff removed at random
    },
    queue: {
      maxWaitMs: 1_000, // 1 s
      maxWaiting: 1000, // callers
    },
  },
  endpoint: {
    weight: 1,
    transport: 'h2',
  },
  /** The admin server is on unless the config says `admin: false`. */
  admin: {
    host: '127.0.0.1',
    port: 4191,
    remoteAccess: 'read' as const,
  },
  outboundListener: {
    protocol: 'auto',
  },
  inboundTarget: {
    protocol: 'auto',
  },
  plugin: {
    callTimeoutMs: 100, // 100 ms: one callback of a Proxy-Wasm plugin
    maxMemory: 16 * 1024 * 1024, // 16 MiB of linear memory per plugin VM
    maxTraps: 5, // traps and timeouts before the plugin is disabled
    failOpen: false, // a disabled plugin fails requests (500 E_PLUGIN) instead of being skipped
  },
  devPki: {
    trustDomain: 'mesh.local',
  },
  identity: {
    debounceMs: 250, // 250 ms after the last file event (a rename burst settles)
    recheckMs: 10_000, // 10 s: re-read and hash the TLS files even when no event came
    expiryWarningMs: 24 * 3_600_000, // 24 h before notAfter the log warns
  },
  demo: {
    host: '127.0.0.1',
    httpPort: 8080,
    tcpPort: 9000,
    trafficPerSecond: 0, // demo requests/s through the outbound listener (0 = none)
    trafficAuthority: 'demo.local',
  },
} as const
