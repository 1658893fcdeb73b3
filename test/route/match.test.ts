// Route matching: path exact/prefix/regex, method, headers, query, gRPC service/method; first match wins.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { RouteMatchConfig } from '../../src/config/route-types.js'
import { RouteMatcher } from '../../src/route/match.js'

function m (partial: Partial<RouteMatchConfig>): RouteMatchConfig {
  return { headers: [], query: [], ...partial }
}

const table = new RouteMatcher<string>([
  { match: [m({ path: { exact: '/exact' } })], value: 'exact' },
  { match: [m({ path: { prefix: '/api/' }, method: 'POST' })], value: 'api-post' },
  { match: [m({ path: { prefix: '/api' } })], value: 'api' },
  { match: [m({ path: { regex: '^/v[0-9]+/items$' } })], value: 'regex' },
  { match: [m({ headers: [{ name: 'x-canary', exact: '1' }] }), m({ query: [{ name: 'canary', regex: '^(yes|1)$' }] })], value: 'canary' },
  { match: [m({ grpc: { service: 'demo.Echo', method: 'Say' } })], value: 'grpc-say' },
  { match: [m({ grpc: { service: 'demo.Echo' } })], value: 'grpc-echo' },
])

const get = (path: string, headers: Record<string, string> = {}, method = 'GET'): string | undefined => table.match({ method, path, headers })

test('path exact matches the whole path only, with or without a query', () => {
  assert.equal(get('/exact'), 'exact')
  assert.equal(get('/exact?x=1'), 'exact')
  assert.equal(get('/exact/more'), undefined)
})

test('path prefix matches whole segments, a trailing slash in the prefix does not matter', () => {
  assert.equal(get('/api'), 'api')
  assert.equal(get('/api/users'), 'api')
  assert.equal(get('/apix'), undefined)
  assert.equal(get('/api/users', {}, 'POST'), 'api-post', 'method and prefix both hold: the earlier route')
})

test('path regex, headers and query parameters', () => {
  assert.equal(get('/v2/items'), 'regex')
  assert.equal(get('/v2/items/1'), undefined)
  assert.equal(get('/other', { 'x-canary': '1' }), 'canary')
  assert.equal(get('/other', { 'x-canary': '2' }), undefined)
  assert.equal(get('/other?canary=yes'), 'canary')
  assert.equal(get('/other?canary=no'), undefined)
})

test('gRPC matches need a gRPC content type and split the path into service and method', () => {
  const grpc = { 'content-type': 'application/grpc+proto' }
  assert.equal(get('/demo.Echo/Say', grpc, 'POST'), 'grpc-say')
  assert.equal(get('/demo.Echo/Shout', grpc, 'POST'), 'grpc-echo')
  assert.equal(get('/demo.Echo/Say', { 'content-type': 'application/json' }, 'POST'), undefined)
})

test('a route without matches takes every request', () => {
  const all = new RouteMatcher([{ match: [], value: 'all' }])
  assert.equal(all.match({ method: 'DELETE', path: '/anything', headers: {} }), 'all')
})
