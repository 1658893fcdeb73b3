/**
 * The schema of traffic policy: a service's `routes` and `retryBudget`, and the inbound
 * `rateLimit`. Every problem is reported with its YAML path: a regex that does not compile (with
 * the engine's reason), a path match with none or two of exact/prefix/regex, backends whose
 * weights sum to 0, route names used twice, a route's `plugins:` entry whose module is missing.
 */
import { pluginList } from './plugin-schema.js'
import type {
  BackendConfig, NamedMatch, PathMatch, RateLimitConfig, RetryBudgetConfig, RetryConfig, RouteConfig, RouteMatchConfig,
} from './route-types.js'
import {
  decimal, duration, fail, integer, INVALID, isRecord, leaf, list, map, object, oneOf, optional, refine, required, size,
  string, withDefault, type Context, type Path, type Schema,
} from './schema.js'

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/
const name = string('a name (letters, digits, ".", "-", "_")', (v) => NAME.test(v))

/** The defaults of a retry policy and of the budget, in the units the config holds. */
export const ROUTE_DEFAULTS = {
  retry: {
    on: ['5xx', 'connect-failure', 'reset'],
    maxRetries: 2,
    maxBodyBytes: 64 * 1024, // 64 KiB
    maxResponseBytes: 64 * 1024, // 64 KiB
    backoffMs: 0, // 0 ms
  },
  retryBudget: {
    ratio: 0.2, // 20 % of requests
    minPerSecond: 10, // 10 retries/s
    ttlMs: 10_000, // 10 s
  },
} as const

/** A regular expression that compiles; the problem says why not. */
function regex (): Schema<string> {
  const expected = 'a regular expression (JavaScript syntax)'
  return {
    expected,
    parse: (value, path, ctx) => {
      if (typeof value !== 'string' || value === '') return fail(ctx, path, value, expected)
      try {
        RegExp(value)
        return value
      } catch (err) {
        const reason = err instanceof Error ? err.message.replace(/^Invalid regular expression: /, '') : String(err)
        return fail(ctx, path, value, `a regular expression that compiles (${reason})`)
      }
    },
  }
}

/** A map with exactly one of `keys`, each a string (`regex` compiled). */
function oneKey<T> (keys: readonly string[], extra: readonly string[] = []): Schema<T> {
  const expected = `a map with exactly one of ${keys.join(', ')}`
  return {
    expected,
    parse: (value, path, ctx) => {
      if (!isRecord(value)) return fail(ctx, path, value, expected)
      const given = keys.filter((k) => value[k] !== undefined && value[k] !== null)
      let ok = true
      for (const key of Object.keys(value)) {
        if (!keys.includes(key) && !extra.includes(key)) {
          ctx.problems.push({ path: [...path, key], found: `unknown key "${key}"`, expected: `no such key (known keys: ${[...extra, ...keys].join(', ')})` })
          ok = false
        }
      }
      if (given.length !== 1) return fail(ctx, path, value, `${expected} (found ${given.length === 0 ? 'none' : given.join(' and ')})`)
      const key = given[0]
      const schema = key === 'regex' ? regex() : string(key === 'exact' ? 'a string' : 'a path starting with /', (v) => key === 'exact' || v.startsWith('/'))
      const parsed = schema.parse(value[key], [...path, key], ctx)
      if (parsed === INVALID || !ok) return INVALID
      return { [key]: parsed } as T
    },
  }
}

const pathMatch: Schema<PathMatch> = refine(oneKey<PathMatch>(['exact', 'prefix', 'regex']), (m, path, ctx) => {
  if ('exact' in m && !m.exact.startsWith('/')) return fail(ctx, [...path, 'exact'], m.exact, 'a path starting with /')
  return m
})

const headerName = string('a header name (lowercase letters, digits, "-")', (v) => /^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(v))
const queryName = string('a query parameter name')

function namedMatch (nameSchema: Schema<string>): Schema<NamedMatch> {
  const inner = oneKey<{ exact: string } | { regex: string }>(['exact', 'regex'], ['name'])
  return {
    expected: 'a map with name and exactly one of exact, regex',
    parse: (value, path, ctx) => {
      if (!isRecord(value)) return fail(ctx, path, value, 'a map with name and exactly one of exact, regex')
      const n = value.name === undefined ? fail(ctx, [...path, 'name'], undefined, nameSchema.expected) : nameSchema.parse(value.name, [...path, 'name'], ctx)
      const m = inner.parse(value, path, ctx)
      return n === INVALID || m === INVALID ? INVALID : { name: n, ...m }
    },
  }
}

const method = string('an HTTP method in upper case (GET, POST, …)', (v) => /^[A-Z]+$/.test(v))
const grpcName = string('a gRPC name (letters, digits, ".", "_")', (v) => /^[A-Za-z_][\w.]*$/.test(v))

const routeMatch: Schema<RouteMatchConfig> = object({
  path: optional(pathMatch),
  method: optional(method),
  headers: withDefault(list(namedMatch(headerName)), []),
  query: withDefault(list(namedMatch(queryName)), []),
  grpc: optional(object({ service: optional(grpcName), method: optional(grpcName) })),
})

const labelKey = string('a label name', (v) => /^[A-Za-z0-9][\w./-]*$/.test(v) && v.length <= 317)
const labelValue: Schema<string> = leaf('a label value (a string)', (v) => typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : undefined)
/** Endpoint labels, as written on endpoints and in subsets. */
export const labels: Schema<Record<string, string>> = map(labelValue, labelKey)

const dtabPath = string('a path like /svc/web', (v) => /^(\/[^\s/|&*=>;]+)+$/.test(v))

const backend: Schema<BackendConfig> = refine(object({
  service: optional(name),
  subset: optional(refine(labels, (l, path, ctx) => Object.keys(l).length === 0 ? fail(ctx, path, l, 'at least one label (e.g. version: v2)') : l)),
  path: optional(dtabPath),
  weight: withDefault(integer(0, 1_000_000), 1),
}), (b, path, ctx) => {
  if (b.path !== undefined && (b.service !== undefined || b.subset !== undefined)) return fail(ctx, [...path, 'path'], b.path, 'no path when service or subset is given (a path names its own services)')
  if (b.path === undefined && b.service === undefined && b.subset === undefined) return fail(ctx, path, b, 'a map with service, subset (of this service) or path')
  return b
})

const GRPC_CODE_NAMES = ['ok', 'cancelled', 'unknown', 'invalid-argument', 'deadline-exceeded', 'not-found', 'already-exists',
  'permission-denied', 'resource-exhausted', 'failed-precondition', 'aborted', 'out-of-range', 'unimplemented', 'internal',
  'unavailable', 'data-loss', 'unauthenticated'] as const
/** A gRPC status code by number (0–16) or name (`unavailable`, `resource-exhausted`). */
const grpcCode: Schema<number> = leaf(`a gRPC status code 0–16 or its name (${GRPC_CODE_NAMES.join(', ')})`, (v) => {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 16) return v
  const index = typeof v === 'string' ? (GRPC_CODE_NAMES as readonly string[]).indexOf(v.toLowerCase().replaceAll('_', '-')) : -1
  return index >= 0 ? index : undefined
})

const R = ROUTE_DEFAULTS.retry
const retry: Schema<RetryConfig> = object({
  on: withDefault(list(oneOf(['5xx', 'connect-failure', 'reset', 'timeout'] as const)), [...R.on]),
  grpcCodes: withDefault(list(grpcCode), []),
  maxRetries: withDefault(integer(0, 10), R.maxRetries),
  maxBodyBytes: withDefault(size(0, 16 * 1024 * 1024), R.maxBodyBytes),
  maxResponseBytes: withDefault(size(0, 16 * 1024 * 1024), R.maxResponseBytes),
  backoffMs: withDefault(duration(0, 60_000), R.backoffMs),
})

/** Weights of a non-empty backend list must not all be 0. */
function backends (): Schema<BackendConfig[]> {
  return refine(list(backend), (bs, path, ctx) => {
    if (bs.length > 0 && bs.reduce((sum, b) => sum + b.weight, 0) === 0) return fail(ctx, path, bs, 'backends whose weights sum to more than 0')
    return bs
  })
}

const route = (index: number): Schema<RouteConfig> => refine(object({
  name: optional(name),
  match: withDefault(list(routeMatch), []),
  backends: withDefault(backends(), []),
  retry: optional(retry),
  timeouts: withDefault(object({ requestMs: optional(duration(0)), perTryMs: optional(duration(1)) }), {}),
  plugins: optional(pluginList),
}), (r) => ({ ...r, name: r.name ?? `route-${index}` }))

/** A service's routes: each item checked, names unique. */
export const routes: Schema<RouteConfig[]> = {
  expected: 'a list of routes (name, match, backends, retry, timeouts, plugins)',
  parse: (value, path, ctx) => {
    if (!Array.isArray(value)) return fail(ctx, path, value, 'a list of routes (name, match, backends, retry, timeouts, plugins)')
    const out: RouteConfig[] = []
    let ok = true
    const names = new Map<string, number>()
    value.forEach((item: unknown, i) => {
      // Names are compared as written, so a route with other problems still takes part.
      const raw = isRecord(item) && typeof item.name === 'string' ? item.name : `route-${i}`
      const first = names.get(raw)
      if (first !== undefined) { ok = false; fail(ctx, [...path, i, 'name'], raw, `a route name not already used by routes[${first}]`) }
      names.set(raw, i)
      const parsed = route(i).parse(item, [...path, i], ctx)
      if (parsed === INVALID) { ok = false; return }
      out.push(parsed)
    })
    return ok ? out : INVALID
  },
}

const B = ROUTE_DEFAULTS.retryBudget
export const retryBudget: Schema<RetryBudgetConfig> = object({
  ratio: withDefault(decimal(0, 10, 'a share 0–10 of requests (0.2 = 20 %)'), B.ratio),
  minPerSecond: withDefault(decimal(0, 1_000_000), B.minPerSecond),
  ttlMs: withDefault(duration(1_000, 60_000), B.ttlMs),
})

const bucket = refine(object({
  perSecond: required(decimal(0.001, 10_000_000, 'a rate above 0 (requests per second)')),
  burst: optional(integer(1, 100_000_000)),
}), (b) => ({ perSecond: b.perSecond, burst: b.burst ?? Math.max(1, Math.ceil(b.perSecond)) }))

const spiffe = string('a SPIFFE ID like spiffe://mesh.local/ns/default/sa/name', (v) => /^spiffe:\/\/[^\s/]+\/\S+$/.test(v))
export const rateLimit: Schema<RateLimitConfig> = object({
  total: optional(bucket),
  perIdentity: optional(bucket),
  identities: withDefault(map(bucket, spiffe), {}),
})

export type { Context, Path }
