// The compiled policy: first matching route, weighted choice of subsets and services, a dtab
// path's weighted union, no route for an unmatched request, budgets kept across a reload.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ManualClock } from '../../src/balance/clock.js'
import { mulberry32 } from '../../src/balance/random.js'
import { parseConfig } from '../../src/config/load.js'
import { TrafficPolicy } from '../../src/route/policy.js'

const EP = (target: string, version: string): string => `{ peer: "127.0.0.1:4143", identity: "spiffe://m/ns/d/sa/w", target: "${target}", labels: { version: ${version} } }`
const YAML = `
dtab: "/svc => /#; /svc/shop => 1 * /svc/cart-v2 & 3 * /svc/cart"
services:
  web:
    endpoints: [${EP('127.0.0.1:1', 'v1')}, ${EP('127.0.0.1:2', 'v2')}]
    routes:
      - name: api
        match: [{ path: { prefix: /api } }]
        backends: [{ subset: { version: v1 }, weight: 9 }, { subset: { version: v2 }, weight: 1 }]
      - name: shop
        match: [{ path: { prefix: /shop } }]
        backends: [{ path: /svc/shop }]
  cart: { endpoints: [${EP('127.0.0.1:3', 'v1')}] }
  cart-v2: { endpoints: [${EP('127.0.0.1:4', 'v2')}] }
`

function shares (policy: TrafficPolicy, path: string, n: number): Record<string, number> {
  const out: Record<string, number> = {}
  for (let i = 0; i < n; i++) {
    const target = policy.route('web', { method: 'GET', path, headers: {} })?.choose() ?? 'none'
    out[target] = (out[target] ?? 0) + 1
  }
  return out
}

test('weighted subsets, a dtab union, and no route when nothing matches', () => {
  const config = parseConfig(YAML, '/tmp/policy.yaml')
  const policy = new TrafficPolicy(config, { clock: new ManualClock(), random: mulberry32(7) })
  const api = shares(policy, '/api/x', 10_000)
  assert.ok(Math.abs((api['web#version=v1'] ?? 0) - 9000) < 300, JSON.stringify(api))
  const shop = shares(policy, '/shop', 10_000)
  assert.ok(Math.abs((shop.cart ?? 0) - 7500) < 300, JSON.stringify(shop))
  assert.ok(Math.abs((shop['cart-v2'] ?? 0) - 2500) < 300, JSON.stringify(shop))
  assert.equal(policy.route('web', { method: 'GET', path: '/other', headers: {} }), undefined)
  assert.equal(policy.route('cart', { method: 'GET', path: '/api', headers: {} }), undefined, 'a service without routes')
  assert.deepEqual(policy.routes(), { web: ['api', 'shop'] })
})

test('a reload keeps a service\'s budget when its settings are unchanged', () => {
  const config = parseConfig(YAML, '/tmp/policy.yaml')
  const clock = new ManualClock()
  const first = new TrafficPolicy(config, { clock })
  const budget = first.budgets.get('web')
  assert.ok(budget !== undefined)
  while (budget.tryWithdraw()) { /* use it all */ }
  const second = new TrafficPolicy(config, { clock, previous: first })
  assert.equal(second.budgets.get('web'), budget, 'the same budget: a reload does not refill it')
  const changed = parseConfig(YAML.replace('  web:\n', '  web:\n    retryBudget: { ratio: 0.5 }\n'), '/tmp/policy.yaml')
  assert.notEqual(new TrafficPolicy(changed, { clock, previous: second }).budgets.get('web'), budget)
})
