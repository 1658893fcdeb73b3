/**
 * The validated shape of traffic policy in a config: a service's routes (Gateway API HTTPRoute /
 * GRPCRoute in spirit), their weighted backends, retries and timeouts, and the retry budget.
 * Re-exported by types.ts; kept apart so that the route type can grow without touching the rest
 * of the config's types.
 */
import type { PluginConfig } from './types.js'

/** How a string is compared: exactly, or by a regular expression (searched, anchor it yourself). */
export type StringMatch = { exact: string } | { regex: string }

/** Path match; `prefix` matches whole path segments (`/api` matches `/api` and `/api/x`, not `/apix`). */
export type PathMatch = { exact: string } | { prefix: string } | { regex: string }

/** A header or query parameter that must be present and match. */
export type NamedMatch = { name: string } & StringMatch

/** One way a request can match a route: every condition given must hold. */
export interface RouteMatchConfig {
  path?: PathMatch
  /** Upper-case HTTP method, e.g. `GET`. */
  method?: string
  headers: NamedMatch[]
  query: NamedMatch[]
  /** A gRPC call (`content-type: application/grpc…`, path `/<service>/<method>`); either part may be left out. */
  grpc?: { service?: string, method?: string }
}

/**
 * Where a route sends its requests: another service, a subset of a service's endpoints by
 * label (the same service when `service` is left out), or a dtab path (`/svc/web`).
 */
export interface BackendConfig {
  service?: string
  /** Endpoint labels that must all match (`version: v2`). */
  subset?: Readonly<Record<string, string>>
  /** A name resolved by the config's `dtab` (e.g. `/svc/web`). */
  path?: string
  /** Relative share (default 1; 0 = none). */
  weight: number
}

/** What may be retried. */
export type RetryCondition = '5xx' | 'connect-failure' | 'reset' | 'timeout'

export interface RetryConfig {
  /** Conditions that cause a retry (default 5xx, connect-failure, reset). */
  on: RetryCondition[]
  /**
   * gRPC status codes (numbers) that cause a retry of any method: from a trailers-only answer, or
   * from the trailers of an answer held back until them (up to `maxResponseBytes`).
   */
  grpcCodes: number[]
  /** Retries after the first try (default 2). */
  maxRetries: number
  /** Request bodies up to this size are kept for replay; larger ones are not retried, bytes (default 64 KiB). */
  maxBodyBytes: number
  /**
   * With `grpcCodes`: a gRPC answer is held back from the app until its trailers, up to this many
   * body bytes; a larger one is sent on and no longer retried, bytes (default 64 KiB).
   */
  maxResponseBytes: number
  /** Pause before each retry, ms (default 0). */
  backoffMs: number
}

export interface RouteTimeouts {
  /** The whole request, all tries, to the response head, ms (default: timeouts.requestMs). */
  requestMs?: number
  /** One try, ms (default: none). */
  perTryMs?: number
}

/** One route of a service. Unknown keys are rejected by the schema; add new ones here and there. */
export interface RouteConfig {
  /** Unique within the service; the `route` metric label (default `route-<index>`). */
  name: string
  /** Any of these (empty: every request). */
  match: RouteMatchConfig[]
  /** Empty: the service's own endpoints. */
  backends: BackendConfig[]
  retry?: RetryConfig
  timeouts: RouteTimeouts
  /**
   * Proxy-Wasm plugins run only on the requests matched to this route, after the listener's
   * (docs/plugins.md has the order); absent or empty: none, and no plugin step for the route.
   */
  plugins?: PluginConfig[]
}

/** Linkerd-style budget: retries ≤ minPerSecond·ttl + ratio·requests over any ttl window. */
export interface RetryBudgetConfig {
  /** Share of requests that may be retried, 0–1 (default 0.2). */
  ratio: number
  /** Retries allowed per second whatever the traffic (default 10). */
  minPerSecond: number
  /** Window the budget is counted over, ms (default 10 s). */
  ttlMs: number
}

/** Inbound local rate limiting (token buckets). */
export interface RateLimitConfig {
  /** All callers together: requests per second and burst (absent: no total limit). */
  total?: { perSecond: number, burst: number }
  /** Each caller identity: requests per second and burst (absent: no per-caller limit). */
  perIdentity?: { perSecond: number, burst: number }
  /** Per-identity overrides by SPIFFE ID. */
  identities: Readonly<Record<string, { perSecond: number, burst: number }>>
}
