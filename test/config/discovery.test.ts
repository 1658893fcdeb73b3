// The discovery and balancing sections: parsed values, defaults in step with the balancers, every bad value reported.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { ConfigError } from '../../core/errors.js'
import { parseConfig } from '../../src/config/load.js'
import { DEFAULTS } from '../../src/config/defaults.js'
import { FAILURE_ACCRUAL_DEFAULTS } from '../../src/balance/failure-accrual.js'
import { PEAK_EWMA_DEFAULTS } from '../../src/balance/peak-ewma.js'
import { PICK_QUEUE_DEFAULTS } from '../../src/balance/queue.js'
import { balancingOptions, discoveryFromConfig } from '../../src/discovery/from-config.js'

const FILE = '/etc/meshgate/mesh.yaml'
const ID = 'spiffe://mesh.local/ns/default/sa/web'

const GOOD = `
discovery:
  sources:
    registry: { kind: file, path: endpoints.yaml, debounceMs: 50ms }
    corp-dns:
      kind: dns
      servers: [127.0.0.1:5353, "::1"]
      minRefreshMs: 2s
      maxRefreshMs: 1m
      services:
        api: { name: api.mesh.internal, type: A, port: 4143, identity: "${ID}", target: "{address}:8080" }
        db: { name: _meshgate._tcp.db.mesh.internal, type: SRV, identity: "spiffe://mesh.local/ns/default/sa/db" }
    k8s:
      kind: kubernetes
      apiServer: https://10.96.0.1:443
      tokenFile: secrets/token
      caFile: /var/run/ca.crt
      namespace: shop
      services:
        cart: { name: cart, peerPort: 4143, targetPort: http, identity: "spiffe://cluster.local/ns/{namespace}/sa/cart", includeNotReady: true }
services:
  web:
    aliases: [web.local]
    endpoints: [{ peer: "10.0.0.1:4143", identity: "${ID}", target: "127.0.0.1:8080" }]
  files: { source: registry }
  api: { source: corp-dns }
  db: { source: corp-dns }
  cart: { source: k8s }
balancing:
  requests: round-robin
  peakEwma: { decayMs: 5s }
  failureAccrual: { consecutiveFailures: 3, backoffInitialMs: 250ms, jitter: 0 }
  queue: { maxWaitMs: 0 }
`

test('discovery sources and balancing are parsed: units converted, paths absolute, the rest defaulted', () => {
  const config = parseConfig(GOOD, FILE)
  assert.deepEqual(config.discovery?.sources.registry, { kind: 'file', path: '/etc/meshgate/endpoints.yaml', debounceMs: 50 })
  const dns = config.discovery?.sources['corp-dns']
  assert.equal(dns?.kind, 'dns')
  if (dns?.kind === 'dns') {
    assert.deepEqual(dns.servers, ['127.0.0.1:5353', '::1'])
    assert.equal(dns.minRefreshMs, 2000)
    assert.equal(dns.maxRefreshMs, 60_000)
    assert.deepEqual(dns.services.api, { name: 'api.mesh.internal', type: 'A', port: 4143, identity: ID, target: '{address}:8080' })
  }
  const k8s = config.discovery?.sources.k8s
  assert.equal(k8s?.kind, 'kubernetes')
  if (k8s?.kind === 'kubernetes') {
    assert.equal(k8s.tokenFile, '/etc/meshgate/secrets/token')
    assert.equal(k8s.services.cart?.targetPort, 'http')
    assert.equal(k8s.services.cart?.includeNotReady, true)
  }
  assert.deepEqual(config.services.files, { aliases: [], endpoints: [], source: 'registry' })
  assert.equal(config.services.web?.source, undefined, 'a service with endpoints keeps them and names no source')
  assert.equal(config.services.web?.endpoints.length, 1)
  assert.deepEqual(config.balancing, {
    requests: 'round-robin',
    peakEwma: { decayMs: 5000, defaultRttMs: 30 },
    failureAccrual: { ...DEFAULTS.balancing.failureAccrual, consecutiveFailures: 3, backoffInitialMs: 250, jitter: 0 },
    queue: { maxWaitMs: 0, maxWaiting: 1000 },
  })
})

test('balancing defaults are the balancers\' own defaults', () => {
  const config = parseConfig('', FILE)
  assert.equal(config.discovery, undefined)
  assert.equal(config.balancing.requests, 'peak-ewma')
  assert.deepEqual(config.balancing.peakEwma, { ...PEAK_EWMA_DEFAULTS })
  assert.deepEqual(config.balancing.failureAccrual, { ...FAILURE_ACCRUAL_DEFAULTS })
  assert.deepEqual(config.balancing.queue, { ...PICK_QUEUE_DEFAULTS })
  assert.deepEqual(balancingOptions(config.balancing).queue, { maxWaitMs: 1000, maxWaiting: 1000 })
})

const BAD = `
discovery:
  sources:
    static: { kind: file, path: a.yaml }
    reg: { kind: flie, path: a.yaml }
    d:
      kind: dns
      servers: [dns.example.com]
      minRefreshMs: 10s
      maxRefreshMs: 1s
      services:
        api: { name: "bad name", type: A, identity: "http://x" }
        orphan: { name: orphan.mesh, type: SRV, identity: "${ID}" }
    k:
      kind: kubernetes
      apiServer: ftp://x
      tokenFile: 42
      services:
        cart: { name: Cart, peerPort: 0, identity: "${ID}", includeNotReady: yes }
services:
  api: { source: d }
  cart: { source: k }
  lost: { source: nowhere }
  both: { source: d, endpoints: [{ peer: "10.0.0.1:4143", identity: "${ID}", target: "127.0.0.1:8080" }] }
  neither: { aliases: [neither.local] }
  unlisted: { source: k }
balancing:
  requests: fastest
  peakEwma: { decayMs: -1 }
  failureAccrual: { failureRate: 0, jitter: 2, rateWindow: 5, rateMinRequests: 10, backoffInitialMs: 2m, backoffMaxMs: 1m }
  queue: { maxWaiting: many }
`

test('every bad discovery or balancing value is reported with file, path, found and expected', () => {
  let err: unknown
  try {
    parseConfig(BAD, FILE)
  } catch (e) {
    err = e
  }
  assert.ok(err instanceof ConfigError, String(err))
  assert.equal(err.file, FILE)
  const byPath = new Map(err.problems.map((p) => [p.path, p]))
  const expectAt = (path: string, found: RegExp, expected: RegExp): void => {
    const problem = byPath.get(path)
    assert.ok(problem !== undefined, `a problem at ${path}; got ${[...byPath.keys()].join(', ')}`)
    assert.match(problem.found, found, path)
    assert.match(problem.expected, expected, path)
  }
  expectAt('discovery.sources.static', /static/, /reserved/)
  expectAt('discovery.sources.reg.kind', /"flie"/, /"file", "dns", "kubernetes"/)
  expectAt('discovery.sources.d.servers[0]', /dns\.example\.com/, /resolver IP address/)
  expectAt('discovery.sources.d.services.api.name', /bad name/, /DNS name/)
  expectAt('discovery.sources.d.services.api.identity', /http:\/\/x/, /SPIFFE ID/)
  expectAt('discovery.sources.d.services.orphan', /orphan/, /a service in services with source: d/)
  expectAt('discovery.sources.k.apiServer', /ftp:\/\/x/, /API server URL/)
  expectAt('discovery.sources.k.tokenFile', /42/, /token file, or false/)
  expectAt('discovery.sources.k.services.cart.name', /"Cart"/, /Kubernetes name/)
  expectAt('discovery.sources.k.services.cart.peerPort', /^0/, /port 1–65535/)
  expectAt('discovery.sources.k.services.cart.includeNotReady', /"yes"/, /true or false/)
  expectAt('services.lost.source', /"nowhere"/, /discovery\.sources \(one of: static, reg, d, k\)/)
  expectAt('services.both.source', /"d"/, /one or the other/)
  expectAt('services.neither.endpoints', /missing/, /endpoints, or source/)
  expectAt('services.unlisted.source', /"k"/, /discovery\.sources\.k\.services has no unlisted/)
  expectAt('balancing.requests', /"fastest"/, /"peak-ewma", "round-robin"/)
  expectAt('balancing.peakEwma.decayMs', /-1/, /duration/)
  expectAt('balancing.failureAccrual.failureRate', /^0/, /share 0\.01–1/)
  expectAt('balancing.failureAccrual.jitter', /^2/, /share 0–1/)
  expectAt('balancing.queue.maxWaiting', /"many"/, /integer/)
  for (const p of err.problems) assert.match(p.found, /\(line \d+\)$/, `${p.path} names its line`)
})

test('ordered pairs: min ≤ max is checked once both values are good', () => {
  const yaml = (extra: string): string => `
discovery:
  sources:
    d:
      kind: dns
      services: { api: { name: api.mesh, type: A, port: 4143, identity: "${ID}" } }
      ${extra}
services:
  api: { source: d }
balancing:
  failureAccrual: { rateWindow: 5, rateMinRequests: 10, backoffInitialMs: 2m, backoffMaxMs: 1m }
`
  const err = ((): ConfigError => { try { parseConfig(yaml('minRefreshMs: 10s\n      maxRefreshMs: 1s'), FILE) } catch (e) { return e as ConfigError } assert.fail('no error') })()
  const paths = err.problems.map((p) => p.path)
  assert.ok(paths.includes('discovery.sources.d.minRefreshMs'), paths.join(', '))
  assert.ok(paths.includes('balancing.failureAccrual.backoffInitialMs'), paths.join(', '))
  assert.ok(paths.includes('balancing.failureAccrual.rateMinRequests'), paths.join(', '))
  const problem = err.problems.find((p) => p.path === 'discovery.sources.d.minRefreshMs')
  assert.match(problem?.expected ?? '', /at most maxRefreshMs \(1000\)/)
})

test('a dns A lookup needs a port; SRV does not', () => {
  const text = `
discovery:
  sources:
    d:
      kind: dns
      services:
        a: { name: a.mesh, type: A, identity: "${ID}" }
        s: { name: _x._tcp.s.mesh, type: SRV, identity: "${ID}" }
services: { a: { source: d }, s: { source: d } }
`
  const err = ((): ConfigError => { try { parseConfig(text, FILE) } catch (e) { return e as ConfigError } assert.fail('no error') })()
  assert.deepEqual(err.problems.map((p) => p.path), ['discovery.sources.d.services.a.port'])
})

test('discoveryFromConfig: static services are served at once and primed; named sources are used', async () => {
  const config = parseConfig(`
discovery:
  sources:
    registry: { kind: file, path: does-not-exist/endpoints.yaml }
services:
  web: { endpoints: [{ peer: "127.0.0.1:4143", identity: "${ID}", target: "127.0.0.1:8080", weight: 2 }] }
  files: { source: registry }
`, join('/tmp', 'meshgate-from-config.yaml'))
  const errors: string[] = []
  const discovery = await discoveryFromConfig(config, {
    discoveryObserver: { updated: () => {}, endpoints: () => {}, error: (source, code) => { errors.push(`${source} ${code}`) } },
  })
  try {
    const pick = await discovery.directory.pick('web', 'request')
    assert.equal(pick.endpoint.target, '127.0.0.1:8080')
    assert.equal(pick.endpoint.weight, 2)
    pick.done({ ok: true, latencyMs: 1 })
    // The file source failed its first read: the service has heard from its source, so discovery is primed.
    for (let i = 0; i < 100 && !discovery.primed(); i++) await new Promise((resolve) => setTimeout(resolve, 10))
    assert.equal(discovery.primed(), true)
    assert.equal(discovery.directory.status('files'), 'pending')
    assert.ok(errors.includes('registry E_DISCOVERY_FILE_READ'), `errors labelled with the config name: ${errors.join('; ')}`)
    await assert.rejects(discovery.directory.pick('nowhere', 'request'), { code: 'E_NO_ROUTE' })
  } finally {
    await discovery.close()
    await discovery.close()
  }
})

test('meshgate check\'s summary names each service\'s source and the discovery sources', async () => {
  const { describeConfig } = await import('../../src/config/summary.js')
  const lines = describeConfig(parseConfig(GOOD, FILE))
  assert.ok(lines.some((l) => l.includes('files (source registry)') && l.includes('web (1 endpoint; aliases web.local)')), lines.join('\n'))
  assert.ok(lines.includes('discovery: registry file /etc/meshgate/endpoints.yaml, corp-dns dns (2 services), k8s kubernetes (1 service)'), lines.join('\n'))
})
