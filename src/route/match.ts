/**
 * Route matching, compiled once per config: each route's matches become small predicates over the
 * request's method, path, headers and query. A request matches a route when any of its matches
 * holds (a route with no match takes every request); routes are tried in the order written and
 * the first one that matches wins.
 */
import type { NamedMatch, PathMatch, RouteMatchConfig, StringMatch } from '../config/route-types.js'

/** What matching reads of a request. `headers` are lower-case names (node's parsed form). */
export interface RequestFacts {
  method: string
  /** The request target as sent: path, then `?query` if any. */
  path: string
  headers: Readonly<Record<string, string | string[] | undefined>>
}

/** The query string, parsed on first use (most routes never read it). */
class LazyQuery {
  #parsed: URLSearchParams | undefined = undefined
  constructor (readonly raw: string) {}
  get (name: string): string | null {
    this.#parsed ??= new URLSearchParams(this.raw)
    return this.#parsed.get(name)
  }
}

type Test = (facts: RequestFacts, path: string, query: LazyQuery) => boolean

function stringTest (m: StringMatch): (value: string) => boolean {
  if ('exact' in m) { const want = m.exact; return (v) => v === want }
  const re = new RegExp(m.regex)
  return (v) => re.test(v)
}

function pathTest (m: PathMatch): (path: string) => boolean {
  if ('exact' in m) { const want = m.exact; return (p) => p === want }
  if ('regex' in m) { const re = new RegExp(m.regex); return (p) => re.test(p) }
  // Gateway API PathPrefix: whole segments; a trailing slash in the prefix is ignored.
  const prefix = m.prefix.replace(/\/+$/, '')
  if (prefix === '') return () => true
  return (p) => p.startsWith(prefix) && (p.length === prefix.length || p.charCodeAt(prefix.length) === 47 /* / */)
}

function headerTest (m: NamedMatch): Test {
  const test = stringTest(m)
  const name = m.name.toLowerCase()
  return (facts) => {
    const value = facts.headers[name]
    if (value === undefined) return false
    return test(Array.isArray(value) ? value.join(', ') : value)
  }
}

function queryTest (m: NamedMatch): Test {
  const test = stringTest(m)
  return (_facts, _path, query) => {
    const value = query.get(m.name)
    return value !== null && test(value)
  }
}

function grpcTest (grpc: { service?: string, method?: string }): Test {
  return (facts, path) => {
    const type = facts.headers['content-type']
    if (typeof type !== 'string' || !type.startsWith('application/grpc')) return false
    const slash = path.indexOf('/', 1)
    if (path.charCodeAt(0) !== 47 || slash < 0) return false
    if (grpc.service !== undefined && path.slice(1, slash) !== grpc.service) return false
    return grpc.method === undefined || path.slice(slash + 1) === grpc.method
  }
}

/** All conditions of one match, as one predicate. */
export function compileMatch (m: RouteMatchConfig): Test {
  const tests: Test[] = []
  if (m.method !== undefined) { const method = m.method; tests.push((f) => f.method === method) }
  if (m.path !== undefined) { const test = pathTest(m.path); tests.push((_f, p) => test(p)) }
  for (const h of m.headers) tests.push(headerTest(h))
  for (const q of m.query) tests.push(queryTest(q))
  if (m.grpc !== undefined) tests.push(grpcTest(m.grpc))
  if (tests.length === 1) return tests[0]
  return (facts, path, query) => {
    for (const t of tests) if (!t(facts, path, query)) return false
    return true
  }
}

/** Routes of one service compiled for matching; T is whatever the caller attaches to a route. */
export class RouteMatcher<T> {
  readonly #routes: Array<{ tests: Test[], value: T }>

  constructor (routes: ReadonlyArray<{ match: readonly RouteMatchConfig[], value: T }>) {
    this.#routes = routes.map((r) => ({ tests: r.match.map(compileMatch), value: r.value }))
  }

  /** The first route the request matches, or undefined. */
  match (facts: RequestFacts): T | undefined {
    const q = facts.path.indexOf('?')
    const path = q < 0 ? facts.path : facts.path.slice(0, q)
    const query = new LazyQuery(q < 0 ? '' : facts.path.slice(q + 1))
    for (const route of this.#routes) {
      const { tests } = route
      if (tests.length === 0) return route.value
      for (const t of tests) if (t(facts, path, query)) return route.value
    }
    return undefined
  }
}
