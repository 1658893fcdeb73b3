/**
 * The CPU cost per request of routing by a 50-route table vs no routes, measured in one process
 * in the same run: what the outbound path adds per request before it picks an endpoint (route
 * match on method, path, headers and query, then the weighted backend choice and the budget's
 * deposit). The proxying itself is the same either way and is not part of this figure.
 *
 *   node dist/bench/route-table-cost.js [requests=200000] [rounds=5]
 *
 * Prints one JSON line: ns per request for each table, and their difference and ratio.
 */
import { cpuUsage } from 'node:process'
import { systemClock } from '../src/balance/clock.js'
import { parseConfig } from '../src/config/load.js'
import { TrafficPolicy } from '../src/route/policy.js'
import type { RequestFacts } from '../src/route/match.js'

const EP = '{ peer: "127.0.0.1:4143", identity: "spiffe://m/ns/d/sa/w", target: "127.0.0.1:8080", labels: { version: v1 } }'

/** 50 routes of the usual kinds (prefixes, exact paths, regexes, header and query matches); the request matches the last. */
function fiftyRoutes (): string {
  const routes: string[] = []
  for (let i = 0; i < 49; i++) {
    const kind = i % 4
    const match = kind === 0
      ? `{ path: { prefix: /api/v${i} } }`
      : kind === 1
        ? `{ path: { exact: /exact/${i} }, method: POST }`
        : kind === 2
          ? `{ path: { regex: "^/items/${i}/[0-9]+$" } }`
          : `{ headers: [{ name: x-route, exact: "${i}" }], query: [{ name: q, exact: "${i}" }] }`
    routes.push(`      - { name: r${i}, match: [${match}], backends: [{ subset: { version: v1 }, weight: 9 }, { service: web, weight: 1 }] }`)
  }
  routes.push('      - { name: last, match: [{ path: { prefix: / } }], backends: [{ subset: { version: v1 }, weight: 9 }, { service: web, weight: 1 }], retry: { maxRetries: 2 } }')
  return `services:\n  web:\n    endpoints: [${EP}]\n    routes:\n${routes.join('\n')}\n`
}

function nsPerRequest (policy: TrafficPolicy | undefined, facts: RequestFacts, n: number): number {
  let sink = 0
  const start = cpuUsage()
  for (let i = 0; i < n; i++) {
    // What OutboundExchange.start() does: no policy, no work; else match, choose, deposit.
    const route = policy?.route('web', facts)
    if (route !== undefined) {
      sink += route.choose()?.length ?? 0
      route.budget.deposit()
    }
  }
  const used = cpuUsage(start)
  if (sink < 0) console.log(sink)
  return ((used.user + used.system) * 1000) / n
}

const requests = Number(process.argv[2] ?? 200_000)
const rounds = Number(process.argv[3] ?? 5)
const facts: RequestFacts = { method: 'GET', path: '/checkout/cart?x=1', headers: { host: 'web', 'user-agent': 'bench', accept: '*/*' } }
const table = new TrafficPolicy(parseConfig(fiftyRoutes(), '/bench/routes.yaml'), { clock: systemClock })
const none: number[] = []
const fifty: number[] = []
nsPerRequest(table, facts, requests) // warm-up: JIT both paths
nsPerRequest(undefined, facts, requests)
for (let r = 0; r < rounds; r++) {
  none.push(nsPerRequest(undefined, facts, requests))
  fifty.push(nsPerRequest(table, facts, requests))
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const base = median(none)
const routed = median(fifty)
console.log(JSON.stringify({
  scenario: 'route-table-cost',
  requests,
  rounds,
  nsPerRequestNoRoutes: Number(base.toFixed(1)),
  nsPerRequest50Routes: Number(routed.toFixed(1)),
  addedNsPerRequest: Number((routed - base).toFixed(1)),
  ratio: Number((routed / Math.max(base, 0.001)).toFixed(1)),
}))
