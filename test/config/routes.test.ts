// Bad routes and dtabs: every problem in one error, each with file, YAML path, found and expected.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ConfigError } from '../../core/errors.js'
import { parseConfig } from '../../src/config/load.js'

const FILE = '/etc/meshgate/routes.yaml'
const EP = 'peer: 127.0.0.1:4143, identity: "spiffe://mesh.local/ns/default/sa/web", target: 127.0.0.1:8081'

function problems (text: string): Map<string, string> {
  try {
    parseConfig(text, FILE)
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err))
    assert.equal(err.file, FILE)
    return new Map(err.problems.map((p) => [p.path, `${p.expected} | ${p.found}`]))
  }
  assert.fail('the config was accepted')
}

test('a config with many bad routes reports every problem', () => {
  const found = problems(`
dtab: "/svc => /#; /svc/web =>"
services:
  web:
    endpoints: [{ ${EP}, labels: { version: v1 } }]
    routes:
      - name: a
        match:
          - path: { regex: "([a-z" }
          - path: { prefix: /x, exact: /y }
          - headers: [{ name: x-v, regex: "*" }]
        backends:
          - { subset: { version: v1 }, weight: 0 }
          - { service: web, weight: 0 }
      - name: a
        backends: [{ subset: { version: v9 } }, { service: nowhere }]
        retry: { on: [5xx, teapot], grpcCodes: [unavailable, 99] }
      - backends: [{ path: /svc/web }]
  other:
    endpoints: [{ ${EP} }]
    routes:
      - backends: [{ path: /svc/web }]
        timeouts: { perTryMs: soon }
`)
  const expect = (path: string, pattern: RegExp): void => {
    const p = found.get(path)
    assert.ok(p !== undefined, `no problem at ${path}; found: ${[...found.keys()].join(', ')}`)
    assert.match(p, pattern, path)
  }
  expect('dtab', /a dtab that parses \(expected a path starting with \/ at offset \d+/)
  expect('services.web.routes[0].match[0].path.regex', /a regular expression that compiles \(.*Unterminated character class/)
  expect('services.web.routes[0].match[1].path', /exactly one of exact, prefix, regex \(found exact and prefix\)/)
  expect('services.web.routes[0].match[2].headers[0].regex', /a regular expression that compiles/)
  expect('services.web.routes[0].backends', /weights sum to more than 0/)
  expect('services.web.routes[1].name', /a route name not already used by routes\[0\]/)
  expect('services.web.routes[1].retry.on[1]', /one of "5xx", "connect-failure", "reset", "timeout" \| "teapot"/)
  expect('services.web.routes[1].retry.grpcCodes[1]', /a gRPC status code 0–16/)
  expect('services.web.routes[1].backends[0].subset', /select at least one of services.web.endpoints \(none has version: v9\)/)
  expect('services.web.routes[1].backends[1].service', /the name of a service in services \(one of: web, other\) \| "nowhere"/)
  expect('services.other.routes[0].timeouts.perTryMs', /a duration/)
  assert.ok(found.size >= 11, `${found.size} problems`)
})

test('a backend path needs a dtab that resolves it to a service', () => {
  const found = problems(`
services:
  web:
    endpoints: [{ ${EP} }]
    routes: [{ backends: [{ path: /svc/web }] }]
`)
  assert.match(found.get('services.web.routes[0].backends[0].path') ?? '', /a path needs a top-level dtab/)
  const unresolved = problems(`
dtab: "/svc => /#/nope"
services:
  web:
    endpoints: [{ ${EP} }]
    routes: [{ backends: [{ path: /svc/web }] }]
`)
  assert.match(unresolved.get('services.web.routes[0].backends[0].path') ?? '', /resolves to nothing/)
})

test('a good route table loads, with defaults filled in', () => {
  const config = parseConfig(`
dtab: "/svc => /#; /svc/web => 1 * /svc/web-v2 & 9 * /svc/web"
services:
  web:
    endpoints: [{ ${EP}, labels: { version: v1 } }]
    routes:
      - match: [{ path: { prefix: /api }, method: GET }]
        backends: [{ subset: { version: v1 }, weight: 3 }, { service: web-v2 }]
        retry: { grpcCodes: [unavailable, 4] }
      - backends: [{ path: /svc/web }]
  web-v2:
    endpoints: [{ ${EP} }]
`, FILE)
  const [first, second] = config.services.web.routes ?? []
  assert.equal(first.name, 'route-0')
  assert.deepEqual(first.retry, { on: ['5xx', 'connect-failure', 'reset'], grpcCodes: [14, 4], maxRetries: 2, maxBodyBytes: 65536, maxResponseBytes: 65536, backoffMs: 0 })
  assert.deepEqual(first.backends, [{ subset: { version: 'v1' }, weight: 3 }, { service: 'web-v2', weight: 1 }])
  assert.equal(second.name, 'route-1')
  assert.deepEqual(config.services.web.endpoints[0].labels, { version: 'v1' })
})
