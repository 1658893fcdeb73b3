// Retries through a real pair: on 503 and on a peer reset for idempotent requests, on a connect
// failure for any method, never for a POST whose body reached the peer; the budget under a total
// outage; per-try and route timeouts, and the gRPC deadline. On both data planes.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import http2 from 'node:http2'
import type { AddressInfo } from 'node:net'
import { get } from '../helpers/clients.js'
import { startPair, type Pair } from '../helpers/pair.js'
import { counter } from '../helpers/route-metrics.js'
import { DATA_PLANES } from '../helpers/transports.js'

/** A workload: `/fail-once/ID` 503 the first time per ID, `/slow-once/ID` 3 s the first time, `/fail` always 503, `/delay/MS` and `/wait/MS` after MS. */
interface Workload { port: number, seen: Map<string, number>, close: () => Promise<void> }

async function startWorkload (): Promise<Workload> {
  const seen = new Map<string, number>()
  const timers = new Set<NodeJS.Timeout>()
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/'
    const n = (seen.get(url) ?? 0) + 1
    seen.set(url, n)
    req.resume()
    if (url === '/fail' || (url.startsWith('/fail-once/') && n === 1)) { res.writeHead(503).end('down'); return }
    const wait = /^\/(delay|wait)\/(\d+)$/.exec(url)
    if ((url.startsWith('/slow-once/') && n === 1) || wait !== null) {
      const t = setTimeout(() => res.end('late'), wait === null ? 3000 : Number(wait[2]))
      timers.add(t)
      res.on('close', () => clearTimeout(t))
      return
    }
    req.on('end', () => res.end(`ok ${n}`))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    seen,
    close: async () => {
      for (const t of timers) clearTimeout(t)
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

async function send (port: number, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number, error: string | undefined, body: string }> {
  return await new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: { host: 'web.test', ...headers }, agent: false }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { text += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, error: res.headers['meshgate-error'] as string | undefined, body: text }))
    })
    req.on('error', reject)
    req.setTimeout(20_000, () => req.destroy(new Error('test request timed out')))
    req.end(body)
  })
}

const RETRY_ROUTES = `retryBudget: { ratio: 0.2, minPerSecond: 1, ttlMs: 10s }
routes:
  - name: outage
    match: [{ path: { exact: /fail } }]
    retry: { on: [5xx], maxRetries: 3 }
  - name: slow
    match: [{ path: { prefix: /slow-once } }]
    retry: { on: [timeout], maxRetries: 2 }
    timeouts: { perTryMs: 300ms }
  - name: deadline
    match: [{ path: { prefix: /delay } }]
    timeouts: { requestMs: 300ms }
  - name: retried
    retry: { on: [5xx, reset, connect-failure], maxRetries: 2, maxBodyBytes: 1KiB }`

for (const plane of DATA_PLANES) {
  describe(`retries (${plane.name} data plane)`, { skip: plane.skip }, () => {
    let workload: Workload
    let pair: Pair
    before(async () => {
      workload = await startWorkload()
      pair = await startPair({ dataPlane: plane.name, webTarget: `127.0.0.1:${workload.port}`, webExtra: RETRY_ROUTES })
    })
    after(async () => {
      await pair.close()
      await workload.close()
    })

    it('retries a GET answered 503, counted per route and reason', async () => {
      const reply = await get(pair.appPort, '/fail-once/a')
      assert.equal(reply.status, 200)
      assert.equal(reply.body, 'ok 2')
      assert.equal(await counter(pair.client, 'meshgate_retries_total', { route: 'retried', reason: '5xx' }), 1)
    })

    it('replays a small PUT body on the retry', async () => {
      const reply = await send(pair.appPort, 'PUT', '/fail-once/put', 'x'.repeat(500))
      assert.equal(reply.status, 200)
      assert.equal(workload.seen.get('/fail-once/put'), 2)
    })

    it('does not retry a PUT whose body is above maxBodyBytes', async () => {
      const reply = await send(pair.appPort, 'PUT', '/fail-once/big', 'x'.repeat(4096))
      assert.equal(reply.status, 503)
      assert.equal(workload.seen.get('/fail-once/big'), 1)
    })

    it('never retries a POST whose request reached the peer', async () => {
      const reply = await send(pair.appPort, 'POST', '/fail-once/post', 'hello')
      assert.equal(reply.status, 503)
      assert.equal(workload.seen.get('/fail-once/post'), 1)
    })

    it('under a 100 % outage, retries stay within the budget and the rest are counted as exhausted', async () => {
      const before = await counter(pair.client, 'meshgate_retries_total', { route: 'outage' })
      let failed = 0
      for (let i = 0; i < 100; i++) if ((await get(pair.appPort, '/fail')).status === 503) failed++
      assert.equal(failed, 100)
      const retries = await counter(pair.client, 'meshgate_retries_total', { route: 'outage' }) - before
      const exhausted = await counter(pair.client, 'meshgate_retry_budget_exhausted_total', { route: 'outage' })
      // Reserve 1/s × 10 s plus 20 % of the service's requests so far (these 100 and the few before).
      const requests = 100 + 10
      assert.ok(retries <= 10 + 0.2 * requests, `retries ${retries}`)
      assert.ok(retries >= 10, `the reserve is used: ${retries}`)
      // Each request refused a retry once, except those that had all three.
      assert.ok(exhausted >= 100 - Math.floor(retries / 3), `exhausted ${exhausted}`)
      assert.equal(workload.seen.get('/fail'), 100 + retries)
    })

    it('a try past its per-try timeout is abandoned and retried', async () => {
      const reply = await get(pair.appPort, '/slow-once/a')
      assert.equal(reply.status, 200)
      assert.equal(reply.body, 'ok 2')
      assert.ok(reply.ms < 2500, `the second try answered, not the slow first one (${reply.ms} ms)`)
      assert.equal(await counter(pair.client, 'meshgate_retries_total', { route: 'slow', reason: 'timeout' }), 1)
    })

    it('the route timeout answers 504 E_REQUEST_TIMEOUT; grpc-timeout shortens the deadline', async () => {
      const route = await get(pair.appPort, '/delay/2000')
      assert.equal(route.status, 504)
      assert.equal(route.error, 'E_REQUEST_TIMEOUT')
      const grpc = await send(pair.appPort, 'GET', '/wait/1500', undefined, { 'grpc-timeout': '200m' })
      assert.equal(grpc.status, 504, 'the 200 ms deadline, not the 30 s request timeout')
      assert.equal(grpc.error, 'E_REQUEST_TIMEOUT')
      assert.equal((await send(pair.appPort, 'GET', '/wait/100', undefined, { 'grpc-timeout': '5S' })).status, 200)
    })
  })

  describe(`retries on reset and connect failure (${plane.name} data plane)`, { skip: plane.skip }, () => {
    let pair: Pair
    let resetter: http2.Http2SecureServer
    let streams = 0
    before(async () => {
      pair = await startPair({ dataPlane: plane.name })
      // A peer with the server's certificate that resets every stream before answering.
      const tls = await pair.pki.workload('server')
      resetter = http2.createSecureServer({ key: tls.key, cert: tls.cert, ca: tls.ca, requestCert: true, allowHTTP1: false })
      resetter.on('stream', (stream) => { streams++; stream.on('error', () => {}); stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR) })
      await new Promise<void>((resolve) => resetter.listen(0, '127.0.0.1', resolve))
    })
    after(async () => {
      await pair.close()
      await new Promise((resolve) => resetter.close(resolve))
    })

    async function pairTo (peer: string, retryOn: string): Promise<Pair> {
      return await startPair({
        dataPlane: plane.name,
        pki: pair.pki,
        webPeer: peer,
        webExtra: `routes: [{ name: r, retry: { on: [${retryOn}], maxRetries: 2 } }]`,
        outboundExtra: 'balancing: { failureAccrual: { consecutiveFailures: 0, failureRate: 2 } }',
      })
    }

    it('a GET reset by the peer is retried; a POST is not', async () => {
      const port = (resetter.address() as AddressInfo).port
      const p = await pairTo(`127.0.0.1:${port}`, 'reset')
      try {
        streams = 0
        const got = await get(p.appPort, '/')
        assert.equal(got.status, 502)
        assert.equal(got.error, 'E_PEER_RESET')
        assert.equal(streams, 3, 'the first try and two retries')
        assert.equal(await counter(p.client, 'meshgate_retries_total', { reason: 'reset' }), 2)
        streams = 0
        const posted = await send(p.appPort, 'POST', '/', 'body')
        assert.equal(posted.status, 502)
        assert.equal(streams, 1, 'a POST that reached the peer is not sent again')
      } finally {
        await p.close()
      }
    })

    it('a POST whose peer cannot be reached is retried: no byte of it reached anyone', async () => {
      const p = await pairTo('127.0.0.1:1', 'connect-failure')
      try {
        const posted = await send(p.appPort, 'POST', '/', 'body')
        assert.equal(posted.status, 502)
        assert.equal(posted.error, 'E_PEER_UNREACHABLE')
        assert.equal(await counter(p.client, 'meshgate_retries_total', { reason: 'connect-failure' }), 2)
      } finally {
        await p.close()
      }
    })
  })
}
