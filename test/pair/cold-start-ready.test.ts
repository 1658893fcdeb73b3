// /ready waits (bounded) for the outbound warm-up: once it says 200 a session to the peer is open
// before any request was sent; a peer that refuses or never answers delays it by at most
// min(timeouts.connectMs, 2 s).
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Server, type Socket } from 'node:net'
import { parseMetricsText } from '../../src/metrics/text-format.js'
import { startPair, type Pair } from '../helpers/pair.js'
import { DATA_PLANES } from '../helpers/transports.js'

/** The longest readiness may wait for warm-up (WARM_UP_MAX_MS), and slack for a loaded machine. */
const BOUND_MS = 2_000
const SLACK_MS = 1_500

async function adminGet (pair: Pair, path: string): Promise<{ status: number, text: string }> {
  const admin = pair.client.adminAddress
  assert.ok(admin !== undefined)
  const res = await fetch(`http://127.0.0.1:${admin.port}${path}`, { signal: AbortSignal.timeout(5_000) })
  return { status: res.status, text: await res.text() }
}

/** Polls /ready until 200; returns the ms it took and the status of the first answer. */
async function untilReady (pair: Pair, limitMs: number): Promise<{ ms: number, first: number }> {
  const started = Date.now()
  let first = 0
  while (Date.now() - started < limitMs) {
    const { status } = await adminGet(pair, '/ready')
    first ||= status
    if (status === 200) return { ms: Date.now() - started, first }
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  assert.fail(`/ready did not answer 200 within ${limitMs} ms`)
}

async function clientSessionsOpen (pair: Pair): Promise<number> {
  const samples = parseMetricsText((await adminGet(pair, '/metrics')).text)
  return samples
    .filter((s) => s.name === 'meshgate_transport_sessions_open' && s.labels.side === 'client')
    .reduce((n, s) => n + s.value, 0)
}

async function listen (server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  assert.ok(address !== null && typeof address === 'object')
  return address.port
}

/** A service whose one endpoint's peer is `127.0.0.1:port` (YAML lines for PairOptions.moreServices). */
function serviceAt (name: string, port: number): string {
  return `${name}:\n  endpoints: [{ peer: "127.0.0.1:${port}", identity: "spiffe://test.local/nobody", target: "127.0.0.1:9" }]`
}

for (const plane of DATA_PLANES) {
  describe(`readiness waits for the outbound warm-up (${plane.name} data plane)`, { skip: plane.skip, timeout: 30_000 }, () => {
    // Accepts TCP and never answers the TLS ClientHello: a dial there only ends at its timeout.
    const sockets = new Set<Socket>()
    const silent = createServer((socket) => { sockets.add(socket); socket.on('close', () => sockets.delete(socket)) })
    let silentPort = 0
    let refusedPort = 0
    before(async () => {
      silentPort = await listen(silent)
      const closed = createServer()
      refusedPort = await listen(closed)
      await new Promise((resolve) => closed.close(resolve))
    })
    after(async () => {
      for (const s of sockets) s.destroy()
      await new Promise((resolve) => silent.close(resolve))
    })

    it('has a client session open once /ready says 200, before any request', async () => {
      const pair = await startPair({ dataPlane: plane.name })
      try {
        await untilReady(pair, 5_000)
        const open = await clientSessionsOpen(pair)
        assert.ok(open >= 1, `meshgate_transport_sessions_open{side="client"} is ${open} when /ready says 200`)
      } finally {
        await pair.close()
      }
    })

    it('is ready without waiting for the bound when a peer refuses', async () => {
      const pair = await startPair({ dataPlane: plane.name, outboundExtra: 'timeouts: { connectMs: 5s }', moreServices: serviceAt('refused', refusedPort) })
      try {
        const { ms } = await untilReady(pair, BOUND_MS + SLACK_MS)
        assert.ok(ms < BOUND_MS, `ready after ${ms} ms: a refused dial should not wait for the ${BOUND_MS} ms bound`)
        assert.ok(await clientSessionsOpen(pair) >= 1, 'the reachable peer is warmed all the same')
      } finally {
        await pair.close()
      }
    })

    it('is ready within the bound when a peer never answers', async () => {
      const started = Date.now()
      const pair = await startPair({ dataPlane: plane.name, outboundExtra: 'timeouts: { connectMs: 5s }', moreServices: serviceAt('silent', silentPort) })
      try {
        const { first } = await untilReady(pair, BOUND_MS + SLACK_MS)
        assert.equal(first, 503, 'not ready while the silent peer is still being dialled')
        const ms = Date.now() - started
        assert.ok(ms < BOUND_MS + SLACK_MS, `ready ${ms} ms after start; the bound is ${BOUND_MS} ms`)
        assert.ok(await clientSessionsOpen(pair) >= 1, 'the reachable peer is warmed all the same')
      } finally {
        await pair.close()
      }
    })
  })
}
