// The bench's open-loop pieces: the send schedule, the latency figures, the generator's result
// line, the wrk body script, and the generator itself against a node:http server on loopback
// (that it keeps sending while answers are held back, and times requests from their intended send).
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { runOpenLoop } from '../../bench/open-loop/client.js'
import { encodeResult, failureReasons, parseResult, type OpenLoopResult } from '../../bench/open-loop/result.js'
import { dueBy, intendedSendMs, requestCount, waitMs } from '../../bench/open-loop/schedule.js'
import { coldStartFigures, coldStartWindows, inWindow, summariseLatencies, windowSummary } from '../../bench/open-loop/stats.js'
import { steadyStateReached } from '../../bench/scenarios/cold-start.js'
import { postBodyScript } from '../../bench/scenarios/http1-body.js'

describe('open-loop schedule', () => {
  it('puts request i at i / rate, and counts as due exactly those whose time has come', () => {
    assert.equal(intendedSendMs(0, 1000), 0)
    assert.equal(intendedSendMs(3, 1000), 3)
    assert.equal(intendedSendMs(1, 500), 2)
    assert.equal(dueBy(-1, 1000, 10), 0)
    assert.equal(dueBy(0, 1000, 10), 1)
    assert.equal(dueBy(2.999, 1000, 10), 3)
    assert.equal(dueBy(3, 1000, 10), 4)
    assert.equal(dueBy(1e9, 1000, 10), 10)
    // 1000 × 0.003 is not exactly 3 in floating point; request 3 is still due at 3 ms.
    assert.equal(dueBy(3, 1000 / 3 * 3, 10), 4)
    assert.equal(requestCount(500, 5), 2500)
    assert.equal(requestCount(2000, 0.5), 1000)
    assert.equal(waitMs(4, 1000, 3), 1)
    assert.equal(waitMs(4, 1000, 7), 0)
  })

  it('sends every request once, in order, never early, whatever the timer lag', () => {
    const rate = 2000
    const total = requestCount(rate, 1)
    const sentAt: number[] = []
    let now = 0
    let step = 0
    while (sentAt.length < total && step < 100_000) {
      // Irregular wake-ups, as an event loop under load gives: 0.1 ms to 17 ms late.
      now += waitMs(sentAt.length, rate, now) + ((step * 7919) % 170) / 10
      step++
      const due = dueBy(now, rate, total)
      while (sentAt.length < due) sentAt.push(now)
    }
    assert.equal(sentAt.length, total)
    sentAt.forEach((at, i) => assert.ok(at >= intendedSendMs(i, rate), `request ${i} sent at ${at} before its time ${intendedSendMs(i, rate)}`))
  })
})

describe('open-loop latency figures', () => {
  const latencies = Array.from({ length: 100 }, (_, i) => 100 - i)

  it('gives nearest-rank percentiles and the max, NaN for no samples', () => {
    assert.deepEqual(summariseLatencies(latencies), { count: 100, p50Ms: 50, p90Ms: 90, p99Ms: 99, maxMs: 100 })
    const none = summariseLatencies([])
    assert.equal(none.count, 0)
    assert.ok(Number.isNaN(none.p99Ms) && Number.isNaN(none.maxMs))
  })

  it('windows by intended send time, start included and end excluded', () => {
    const samples = [0, 999, 1000, 4999, 5000, 9999].map((atMs, i) => ({ atMs, latencyMs: i + 1 }))
    assert.deepEqual(inWindow(samples, 0, 1000).map((s) => s.atMs), [0, 999])
    assert.equal(windowSummary(samples, 5000, 10_000).maxMs, 6)
    assert.deepEqual(coldStartWindows(10), { first: [0, 1000], steady: [5000, 10_000] })
    assert.deepEqual(coldStartWindows(30), { first: [0, 1000], steady: [5000, 30_000] })
    assert.deepEqual(coldStartWindows(4), { first: [0, 1000], steady: [2000, 4000] })
    assert.throws(() => coldStartWindows(1), /at least 2 s/)
  })

  it('sets the first second against the steady state', () => {
    // 1,000 req/s for 10 s: 10 ms each in the first second, 2 ms after, one failure in each window.
    const samples = Array.from({ length: 10_000 }, (_, i) => ({ atMs: i, latencyMs: i < 1000 ? 10 : 2 }))
    const figures = coldStartFigures(samples, [{ atMs: 10, reason: 'ECONNRESET' }, { atMs: 7000, reason: 'status 503' }], [5, 6, 4999, 5000], 10)
    assert.equal(figures.first.count, 1000)
    assert.equal(figures.steady.count, 5000)
    assert.equal(figures.first.p99Ms, 10)
    assert.equal(figures.steady.p99Ms, 2)
    assert.equal(figures.p99Ratio, 5)
    assert.equal(figures.firstFailures, 1)
    assert.equal(figures.steadyFailures, 1)
    assert.equal(figures.firstQueued, 2)
    assert.equal(figures.steadyQueued, 1)
    // One request of 5,000 waited: a pause, not a queue that grows.
    assert.equal(steadyStateReached(figures), true)
    assert.equal(steadyStateReached({ ...figures, steadyQueued: 51 }), false)
  })
})

describe('open-loop generator result line', () => {
  const result: OpenLoopResult = {
    rate: 1000,
    durationSeconds: 2,
    sent: 3,
    samples: [{ atMs: 0, latencyMs: 1.23456 }, { atMs: 2, latencyMs: 0.5 }],
    failures: [{ atMs: 1, reason: 'ECONNRESET' }],
    connectionsOpened: 2,
    queuedAtMs: [2],
    maxLateMs: 0.25,
  }

  it('round-trips, samples rounded to µs', () => {
    const parsed = parseResult(encodeResult(result))
    assert.equal(parsed.samples[0]?.latencyMs, 1.235)
    assert.deepEqual({ ...parsed, samples: [] }, { ...result, samples: [] })
    assert.deepEqual(parsed.failures, result.failures)
    assert.deepEqual(parsed.queuedAtMs, [2])
  })

  it('names what is wrong in a bad line', () => {
    assert.throws(() => parseResult('ready'), /not JSON/)
    assert.throws(() => parseResult('[]'), /not an object/)
    assert.throws(() => parseResult(JSON.stringify({ ...JSON.parse(encodeResult(result)), sent: 'three' })), /"sent" is not a number/)
    assert.throws(() => parseResult(JSON.stringify({ ...JSON.parse(encodeResult(result)), samples: [[1]] })), /samples\[0\] is not \[atMs, latencyMs\]/)
    assert.throws(() => parseResult(JSON.stringify({ ...JSON.parse(encodeResult(result)), failures: [[1, 2]] })), /failures\[0\] is not \[atMs, reason\]/)
    assert.throws(() => parseResult(JSON.stringify({ ...JSON.parse(encodeResult(result)), queuedAtMs: ['x'] })), /queuedAtMs\[0\] is not a number/)
  })

  it('counts failures by reason, most frequent first', () => {
    assert.equal(failureReasons([{ atMs: 0, reason: 'a' }, { atMs: 1, reason: 'b' }, { atMs: 2, reason: 'b' }]), 'b 2, a 1')
    assert.equal(failureReasons([]), '')
  })
})

describe('wrk body script', () => {
  it('POSTs the given number of bytes', () => {
    const script = postBodyScript(16384)
    assert.match(script, /^wrk\.method = "POST"$/m)
    assert.match(script, /^wrk\.body = string\.rep\("x", 16384\)$/m)
  })
})

interface Arrival { method: string, host: string, bodyBytes: number, bodyIsX: boolean, at: number }

/** A loopback server that records each request and lets `answer` decide what to do with it. */
async function recordingServer (answer: (index: number, req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server, port: number, arrivals: Arrival[] }> {
  const arrivals: Arrival[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const body = Buffer.concat(chunks)
      const index = arrivals.push({ method: req.method ?? '', host: req.headers.host ?? '', bodyBytes: body.length, bodyIsX: body.every((b) => b === 0x78), at: performance.now() }) - 1
      answer(index, req, res)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, port: (server.address() as AddressInfo).port, arrivals }
}

function close (server: Server): void {
  server.closeAllConnections()
  server.close()
}

describe('open-loop generator on loopback', { timeout: 60_000 }, () => {
  it('sends rate × duration POSTs with the body and Host given, each timed from its slot', async () => {
    const { server, port, arrivals } = await recordingServer((_i, _req, res) => res.end('ok'))
    try {
      const result = await runOpenLoop({ port, authority: 'bench-http1', rate: 200, durationSeconds: 1, bodyBytes: 1024, connections: 16 })
      assert.equal(result.sent, 200)
      assert.equal(result.failures.length, 0)
      assert.deepEqual(result.samples.map((s) => s.atMs), Array.from({ length: 200 }, (_, i) => i * 5))
      assert.ok(result.samples.every((s) => s.latencyMs > 0))
      assert.equal(arrivals.length, 200)
      assert.ok(arrivals.every((a) => a.method === 'POST' && a.host === 'bench-http1' && a.bodyBytes === 1024 && a.bodyIsX))
      assert.ok(result.connectionsOpened >= 1 && result.connectionsOpened <= 16)
    } finally {
      close(server)
    }
  })

  it('warms up on the server it is given, in passes with fresh connections, before the run', async () => {
    const warm = await recordingServer((_i, _req, res) => res.end('warm'))
    const target = await recordingServer((_i, _req, res) => res.end('ok'))
    const warmSockets = new Set<unknown>()
    warm.server.on('connection', (socket) => warmSockets.add(socket))
    try {
      const result = await runOpenLoop({ port: target.port, authority: 'bench-http1', rate: 100, durationSeconds: 1, bodyBytes: 64, connections: 8, warmPort: warm.port, warmPasses: 2, warmSeconds: 0.3 })
      // Two passes of 0.3 s at 100 req/s went to the warm-up server, none of the run's requests.
      assert.equal(warm.arrivals.length, 60)
      assert.ok(warm.arrivals.every((a) => a.method === 'POST' && a.bodyBytes === 64))
      // Each pass opened its own connections: at least one per pass.
      assert.ok(warmSockets.size >= 2, `${warmSockets.size} warm-up connections`)
      assert.equal(target.arrivals.length, 100)
      assert.equal(result.sent, 100)
      assert.equal(result.samples.length, 100)
    } finally {
      close(warm.server)
      close(target.server)
    }
  })

  it('keeps sending while no answer comes, and counts the wait in each latency', async () => {
    const held: ServerResponse[] = []
    const holdMs = 400
    let releasedAt = Infinity
    let arrivedBeforeRelease = 0
    const { server, port } = await recordingServer((index, _req, res) => {
      if (performance.now() >= releasedAt) { res.end('ok'); return }
      held.push(res)
      if (index === 0) {
        setTimeout(() => {
          releasedAt = performance.now()
          arrivedBeforeRelease = held.length
          for (const r of held.splice(0)) r.end('ok')
        }, holdMs)
      }
    })
    try {
      // 200 req/s: about 80 requests fall in the 400 ms hold, and 100 connections leave room for all.
      const result = await runOpenLoop({ port, authority: 'bench-http1', rate: 200, durationSeconds: 1, bodyBytes: 1024, connections: 100 })
      assert.equal(result.failures.length, 0)
      assert.equal(result.samples.length, 200)
      assert.deepEqual(result.queuedAtMs, [])
      // A closed loop on one connection would have sent 1 request during the hold; this one goes on.
      assert.ok(arrivedBeforeRelease >= 40, `only ${arrivedBeforeRelease} requests arrived while answers were held`)
      // Request 0 was due before it arrived and was answered ≥ 400 ms after it arrived.
      assert.ok((result.samples[0]?.latencyMs ?? 0) >= holdMs, `request 0 took ${result.samples[0]?.latencyMs ?? NaN} ms`)
    } finally {
      close(server)
    }
  })

  it('records the requests that found every connection busy, and still answers them', async () => {
    let release: () => void = () => {}
    const released = new Promise<void>((resolve) => { release = resolve })
    const { server, port } = await recordingServer((index, _req, res) => {
      if (index === 0) setTimeout(release, 300)
      released.then(() => res.end('ok'), () => {})
    })
    try {
      // 4 connections, every answer held for the first 300 ms: from the 5th request on, each waits.
      const result = await runOpenLoop({ port, authority: 'bench-http1', rate: 100, durationSeconds: 1, bodyBytes: 16, connections: 4 })
      assert.equal(result.samples.length, 100)
      assert.ok(result.queuedAtMs.length >= 10, `${result.queuedAtMs.length} requests waited`)
      assert.ok(result.queuedAtMs.every((at) => at >= 40), 'the first four requests had a connection each')
      assert.ok(result.connectionsOpened <= 4)
    } finally {
      close(server)
    }
  })

  it('counts error answers and unanswered requests as failures, with their reasons', async () => {
    const { server, port } = await recordingServer((index, _req, res) => {
      if (index === 5) return // never answered: the generator's timeout ends it
      if (index % 10 === 0) { res.statusCode = 503; res.end('no') } else res.end('ok')
    })
    try {
      const result = await runOpenLoop({ port, authority: 'bench-http1', rate: 100, durationSeconds: 1, bodyBytes: 16, connections: 16, timeoutMs: 300 })
      assert.equal(result.sent, 100)
      assert.equal(result.samples.length + result.failures.length, 100)
      assert.equal(failureReasons(result.failures), 'status 503 10, timeout 300 ms 1')
    } finally {
      close(server)
    }
  })
})
