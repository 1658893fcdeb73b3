// Routes through a real pair: weighted splits over label subsets, matches that pick a backend, and a
// split replaced while the proxy runs. On both data planes.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Agent, request } from 'undici'
import { startDemoUpstream, type DemoUpstream } from '../../src/demo/upstream.js'
import { parseConfig } from '../../src/config/load.js'
import { TrafficPolicy } from '../../src/route/policy.js'
import { systemClock } from '../../src/balance/clock.js'
import { startPair, type Pair } from '../helpers/pair.js'
import { DATA_PLANES } from '../helpers/transports.js'

const ROUTES = `routes:
  - name: canary-header
    match: [{ headers: [{ name: x-canary, exact: "1" }] }]
    backends: [{ subset: { version: v2 } }]
  - name: split
    match: [{ path: { prefix: / } }]
    backends:
      - { subset: { version: v1 }, weight: 3 }
      - { subset: { version: v2 }, weight: 1 }`

/** `count` GETs, 8 at a time; the share answered by each demo version. */
async function versions (port: number, count: number, headers: Record<string, string> = {}): Promise<Map<string, number>> {
  const agent = new Agent({ connections: 8 })
  const seen = new Map<string, number>()
  let next = 0
  try {
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next++ < count) {
        const res = await request(`http://127.0.0.1:${port}/`, { dispatcher: agent, headers: { host: 'web.test', ...headers }, headersTimeout: 10_000, bodyTimeout: 10_000 })
        const body = await res.body.text()
        const version = res.statusCode === 200 ? (JSON.parse(body) as { version: string }).version : `status ${res.statusCode}`
        seen.set(version, (seen.get(version) ?? 0) + 1)
      }
    }))
  } finally {
    await agent.close()
  }
  return seen
}

for (const plane of DATA_PLANES) {
  describe(`routes (${plane.name} data plane)`, { skip: plane.skip }, () => {
    let v2: DemoUpstream
    let pair: Pair
    before(async () => {
      v2 = await startDemoUpstream('127.0.0.1', 0, 0, { version: 'v2', echo: false })
      pair = await startPair({
        dataPlane: plane.name,
        webLabels: '{ version: v1 }',
        webMoreEndpoints: [{ target: `127.0.0.1:${v2.httpPort}`, labels: '{ version: v2 }' }],
        webExtra: ROUTES,
      })
    })
    after(async () => {
      await pair.close()
      await v2.close()
    })

    it('splits 3:1 between the v1 and v2 subsets (400 requests, v2 within 25 % ± 8 %)', async () => {
      const seen = await versions(pair.appPort, 400)
      assert.equal((seen.get('v1') ?? 0) + (seen.get('v2') ?? 0), 400, JSON.stringify([...seen]))
      const share = (seen.get('v2') ?? 0) / 400
      // Binomial(400, 0.25): σ ≈ 2.2 %; 8 % is more than 3.5 σ.
      assert.ok(share > 0.17 && share < 0.33, `v2 share ${share}`)
    })

    it('the first matching route wins: a header sends every request to v2', async () => {
      const seen = await versions(pair.appPort, 50, { 'x-canary': '1' })
      assert.deepEqual([...seen], [['v2', 50]])
    })

    it('a split replaced while running takes effect for new requests', async () => {
      const outbound = pair.client.outbound
      assert.ok(outbound !== undefined)
      const before = outbound.policy
      const yaml = `services:
  web:
    endpoints: [{ peer: "127.0.0.1:1", identity: "spiffe://x.test/ns/default/sa/web", target: "127.0.0.1:1", labels: { version: v2 } }]
    routes: [{ backends: [{ subset: { version: v1 }, weight: 0 }, { subset: { version: v2 }, weight: 1 }] }]
`
      outbound.policy = new TrafficPolicy(parseConfig(yaml, '/tmp/live.yaml'), { clock: systemClock, previous: before })
      try {
        const seen = await versions(pair.appPort, 40)
        assert.deepEqual([...seen], [['v2', 40]])
      } finally {
        outbound.policy = before
      }
      const back = await versions(pair.appPort, 200)
      assert.ok((back.get('v1') ?? 0) > 100, `the old split again: ${JSON.stringify([...back])}`)
    })
  })
}
