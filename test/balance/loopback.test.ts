// Balancers against real HTTP servers on loopback: a slow endpoint is avoided, a killed one ejected.
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import { Agent, request } from 'undici'
import { ServiceDirectory } from '../../src/discovery/directory.js'
import { endpointKey, type DiscoverySource, type DiscoveryUpdate, type Endpoint } from '../../src/discovery/types.js'
import { PeakEwmaBalancer } from '../../src/balance/peak-ewma.js'
import { RoundRobinBalancer } from '../../src/balance/round-robin.js'
import { mulberry32 } from '../../src/balance/random.js'
import type { Balancer, Pick } from '../../src/balance/types.js'

const agent = new Agent({ connections: 16 })
const servers: Server[] = []

after(async () => {
  for (const s of servers) s.closeAllConnections()
  await Promise.all(servers.map(async (s) => await new Promise((resolve) => s.close(resolve))))
  await agent.close()
})

/** An HTTP server on 127.0.0.1:0 answering after `delayMs`. */
async function upstream (delayMs: number): Promise<{ server: Server, endpoint: Endpoint }> {
  const server = createServer((_req, res) => { setTimeout(() => res.end('ok'), delayMs) })
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const peer = { host: '127.0.0.1', port: (server.address() as AddressInfo).port }
  return { server, endpoint: { key: endpointKey(peer, 'app:80'), peer, identity: 'spiffe://test.local/ns/default/sa/app', target: 'app:80', weight: 1, transport: 'h2' } }
}

interface Outcome { key: string, ok: boolean, startedAt: number, latencyMs: number }

/** One GET to the picked endpoint; reports the outcome to the balancer. */
async function call (pick: Pick): Promise<Outcome> {
  const startedAt = performance.now()
  let ok = false
  try {
    const res = await request(`http://${pick.endpoint.peer.host}:${pick.endpoint.peer.port}/`, { dispatcher: agent, headersTimeout: 2000 })
    await res.body.dump()
    ok = res.statusCode === 200
  } catch {}
  const latencyMs = performance.now() - startedAt
  pick.done({ ok, latencyMs })
  return { key: pick.endpoint.key, ok, startedAt, latencyMs }
}

/** `total` requests, `concurrency` at a time; `onStart(i)` runs before request i. */
async function drive (next: () => Promise<Pick>, total: number, concurrency: number, onStart: (i: number) => void = () => {}): Promise<Outcome[]> {
  const outcomes: Outcome[] = []
  let issued = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (issued < total) {
      onStart(issued++)
      outcomes.push(await call(await next()))
    }
  }))
  return outcomes
}

const quantile = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.ceil(xs.length * q) - 1] as number

test('full stack: the slow endpoint gets well under its share; a killed one is ejected, then no request fails', async (t) => {
  const fast1 = await upstream(2)
  const fast2 = await upstream(2)
  // 50× slower: a margin wide enough that scheduling noise on a loaded 2-core machine (tens of
  // ms) cannot make the fast endpoints look as slow as this one.
  const slow = await upstream(100)
  const listeners = new Set<(u: DiscoveryUpdate) => void>()
  const source: DiscoverySource = {
    name: 'hand',
    watch: (_s, onUpdate) => { listeners.add(onUpdate); queueMicrotask(() => onUpdate({ kind: 'reset', endpoints: [fast1.endpoint, fast2.endpoint, slow.endpoint] })); return () => listeners.delete(onUpdate) },
    close: async () => {},
  }
  const directory = new ServiceDirectory({
    sources: { hand: source },
    services: { app: 'hand' },
    balancing: { failureAccrual: { consecutiveFailures: 3, backoffInitialMs: 30_000 }, peakEwma: { defaultRttMs: 10 } },
  }, { random: mulberry32(4) })
  let killedAt = Infinity
  const outcomes = await drive(async () => await directory.pick('app', 'request'), 400, 8, (i) => {
    if (i === 200) {
      killedAt = performance.now()
      fast2.server.close()
      fast2.server.closeAllConnections()
    }
  })
  await directory.close()
  const before = outcomes.filter((o) => o.startedAt < killedAt)
  const slowShare = before.filter((o) => o.key === slow.endpoint.key).length / before.length
  t.diagnostic(`slow endpoint (50× slower) share before the kill: ${(slowShare * 100).toFixed(1)} % of ${before.length}`)
  assert.ok(slowShare < 0.15, `slow endpoint share ${slowShare.toFixed(3)} (fair share 0.333)`)
  const failures = outcomes.filter((o) => !o.ok)
  assert.ok(failures.length >= 3 && failures.every((o) => o.key === fast2.endpoint.key), `${failures.length} failures, all on the killed endpoint`)
  const ejectedBy = Math.max(...failures.map((o) => o.startedAt + o.latencyMs))
  const after = outcomes.filter((o) => o.startedAt > ejectedBy)
  t.diagnostic(`${failures.length} failed requests on the killed endpoint, then ${after.length} requests all ok`)
  assert.ok(after.length > 100, `${after.length} requests after the ejection`)
  assert.ok(after.every((o) => o.ok && o.key !== fast2.endpoint.key), 'no failed request after the ejection window')
})

test('bench-style: 4 endpoints, one much slower — peak-EWMA vs round robin (share, mean, p90, p99)', async (t) => {
  // The bench runs the 10× case; here the slow one is 40× slower so that scheduling noise on a
  // loaded CI machine cannot blur the difference the assertions rely on.
  const ups = await Promise.all([3, 3, 3, 120].map(upstream))
  const slowKey = ups[3]?.endpoint.key
  // Warm the connection pool first so neither run pays the TCP handshakes.
  const warm = new RoundRobinBalancer()
  warm.update(ups.map((u) => u.endpoint))
  await drive(async () => warm.pick('request') as Pick, 32, 8)
  const run = async (balancer: Balancer): Promise<{ share: number, mean: number, p90: number, p99: number }> => {
    balancer.update(ups.map((u) => u.endpoint))
    const outcomes = await drive(async () => balancer.pick('request') as Pick, 300, 8)
    assert.ok(outcomes.every((o) => o.ok))
    const latencies = outcomes.map((o) => o.latencyMs)
    return {
      share: outcomes.filter((o) => o.key === slowKey).length / outcomes.length,
      mean: latencies.reduce((a, b) => a + b, 0) / latencies.length,
      p90: quantile(latencies, 0.9),
      p99: quantile(latencies, 0.99),
    }
  }
  const ewma = await run(new PeakEwmaBalancer({ random: mulberry32(9), defaultRttMs: 10 }))
  const rr = await run(new RoundRobinBalancer())
  t.diagnostic(`slow endpoint share: peak-EWMA ${(ewma.share * 100).toFixed(1)} %, round robin ${(rr.share * 100).toFixed(1)} %`)
  for (const [name, r] of [['peak-EWMA', ewma], ['round robin', rr]] as const) {
    t.diagnostic(`${name}: mean ${r.mean.toFixed(1)} ms, p90 ${r.p90.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms`)
  }
  assert.ok(ewma.share < 0.12, `peak-EWMA slow share ${ewma.share}`)
  assert.ok(Math.abs(rr.share - 0.25) < 0.01, `round robin slow share ${rr.share}`)
  // With ~5 % of 300 requests on the slow endpoint, p99 is a slow request under both: the mean
  // and p90 are where the difference shows at this size (the bench runs enough for p99).
  assert.ok(ewma.mean < rr.mean && ewma.p90 < rr.p90, 'peak-EWMA mean and p90 below round robin')
})
