/**
 * The open-loop load generator, run by the bench as its own process (so that its CPU is not
 * counted as a proxy's): HTTP/1.1 POSTs with a fixed body at a fixed rate over a pool of
 * keep-alive connections. Request i goes out at i / rate s after the start whether or not earlier
 * ones were answered, and its latency is measured from that intended time, so a stall shows in
 * every request it delays (no coordinated omission). A request that finds every connection busy
 * waits for one inside node:http's agent, and that wait is part of its latency.
 *
 *   node dist/bench/open-loop/generator.js --port P --authority H --rate R --duration S
 *        [--body 1024] [--connections 64] [--timeout-ms 5000] [--wait-go]
 *        [--warm-port P] [--warm-passes 1] [--warm-seconds 0.5]
 *
 * It first warms itself up (warmUp): by default for 0.5 s against a server of its own, or, with
 * --warm-port, in passes against a server that is already up (cold start warms it on the bench's
 * upstream). With --wait-go it then prints `ready` and starts when a line arrives on stdin (cold
 * start: the bench starts it before the proxy, so Node's own start-up is not in the figures). The
 * last stdout line is the result (result.ts).
 */
import { Agent, createServer, request, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Socket } from 'node:net'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { encodeResult, type OpenLoopResult } from './result.js'
import { dueBy, intendedSendMs, requestCount, waitMs } from './schedule.js'
import type { FailedSample, LatencySample } from './stats.js'

interface GeneratorOptions {
  port: number
  authority: string
  rate: number
  durationSeconds: number
  bodyBytes: number
  connections: number
  timeoutMs: number
}

interface WarmUpOptions {
  /** A server that is already up to warm up on; undefined: one in this process. */
  port: number | undefined
  /** Runs of the same load, each with a fresh agent and fresh connections. */
  passes: number
  seconds: number
}

async function generate (options: GeneratorOptions): Promise<OpenLoopResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: options.connections, maxFreeSockets: options.connections, scheduling: 'lifo' })
  const body = Buffer.alloc(options.bodyBytes, 'x')
  const headers = { host: options.authority, 'content-type': 'application/octet-stream', 'content-length': String(body.length) }
  const total = requestCount(options.rate, options.durationSeconds)
  const samples: LatencySample[] = []
  const failures: FailedSample[] = []
  const sockets = new Set<Socket>()
  let sent = 0
  let inflight = 0
  const queuedAtMs: number[] = []
  let maxLateMs = 0
  let finished = 0
  let allDone: () => void = () => {}
  const done = new Promise<void>((resolve) => { allDone = resolve })
  const start = performance.now()

  const send = (index: number): void => {
    const atMs = intendedSendMs(index, options.rate)
    maxLateMs = Math.max(maxLateMs, performance.now() - start - atMs)
    if (inflight >= options.connections) queuedAtMs.push(atMs)
    inflight++
    let settled = false
    const settle = (reason?: string): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      inflight--
      const latencyMs = performance.now() - start - atMs
      if (reason === undefined) samples.push({ atMs, latencyMs })
      else failures.push({ atMs, reason })
      if (++finished === total) allDone()
    }
    const req = request({ host: '127.0.0.1', port: options.port, method: 'POST', path: '/', agent, headers }, (res) => {
      const ok = res.statusCode !== undefined && res.statusCode >= 200 && res.statusCode < 400
      res.on('data', () => {})
      res.on('end', () => settle(ok ? undefined : `status ${String(res.statusCode)}`))
      res.on('error', (err: NodeJS.ErrnoException) => settle(err.code ?? err.message))
    })
    const timer = setTimeout(() => req.destroy(Object.assign(new Error('timeout'), { code: `timeout ${options.timeoutMs} ms` })), options.timeoutMs)
    req.on('socket', (socket) => sockets.add(socket))
    req.on('error', (err: NodeJS.ErrnoException) => settle(err.code ?? err.message))
    req.end(body)
  }

  const tick = (): void => {
    const due = dueBy(performance.now() - start, options.rate, total)
    while (sent < due) send(sent++)
    if (sent < total) setTimeout(tick, waitMs(sent, options.rate, performance.now() - start))
  }
  if (total === 0) allDone()
  else tick()
  await done
  agent.destroy()
  samples.sort((a, b) => a.atMs - b.atMs)
  failures.sort((a, b) => a.atMs - b.atMs)
  return { rate: options.rate, durationSeconds: options.durationSeconds, sent, samples, failures, connectionsOpened: sockets.size, queuedAtMs, maxLateMs }
}

/**
 * The same load before the real run, so that its first second does not time the generator's own
 * JIT (~25 ms for the first requests of a cold Node process, more than a proxy pair's p99).
 * Half a second against a server in this process takes the worst of that away, and is what the
 * fixed-rate scenarios use: they judge seconds 1 to 5. Cold start judges the first second itself,
 * and there half a second is not enough: against the upstream alone (no proxy), the first second's
 * p99 came out at 2.0–2.3× the steady state's, from 4–6 ms stalls while V8 still optimised and
 * deoptimised node:http's client code (93 optimisations in the real run's first second after
 * 0.5 s, 44 after 3 s: `--trace-opt --trace-deopt`; 1.0× with `--no-opt`). Several passes, each
 * with a fresh agent and fresh connections to a real server, settle it: three passes of 1 s
 * against the upstream gave 0.94–1.15×.
 */
async function warmUp (options: GeneratorOptions, warm: WarmUpOptions): Promise<void> {
  const own = warm.port === undefined ? await ownServer() : undefined
  try {
    const port = warm.port ?? (own?.address() as AddressInfo).port
    for (let pass = 0; pass < warm.passes; pass++) await generate({ ...options, port, durationSeconds: warm.seconds })
  } finally {
    own?.closeAllConnections()
    own?.close()
  }
}

/** A server in this process that reads each request and answers `ok`, listening on loopback. */
async function ownServer (): Promise<Server> {
  const server = createServer((req, res) => {
    req.on('data', () => {})
    req.on('end', () => res.end('ok'))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return server
}

function positive (value: string | undefined, name: string, allowZero = false): number {
  const n = Number(value)
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) throw new Error(`--${name} must be a ${allowZero ? 'non-negative' : 'positive'} number (got ${String(value)})`)
  return n
}

async function main (): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string' },
      authority: { type: 'string' },
      rate: { type: 'string' },
      duration: { type: 'string' },
      body: { type: 'string', default: '1024' },
      connections: { type: 'string', default: '64' },
      'timeout-ms': { type: 'string', default: '5000' },
      'wait-go': { type: 'boolean', default: false },
      'warm-port': { type: 'string' },
      'warm-passes': { type: 'string', default: '1' },
      'warm-seconds': { type: 'string', default: '0.5' },
    },
  })
  if (values.authority === undefined) throw new Error('--authority is required')
  const options: GeneratorOptions = {
    port: positive(values.port, 'port'),
    authority: values.authority,
    rate: positive(values.rate, 'rate'),
    durationSeconds: positive(values.duration, 'duration'),
    bodyBytes: positive(values.body, 'body', true),
    connections: positive(values.connections, 'connections'),
    timeoutMs: positive(values['timeout-ms'], 'timeout-ms'),
  }
  const warm: WarmUpOptions = {
    port: values['warm-port'] === undefined ? undefined : positive(values['warm-port'], 'warm-port'),
    passes: positive(values['warm-passes'], 'warm-passes', true),
    seconds: positive(values['warm-seconds'], 'warm-seconds'),
  }
  await warmUp(options, warm)
  if (values['wait-go']) {
    const lines = createInterface({ input: process.stdin })
    const go = new Promise<void>((resolve) => { lines.once('line', () => resolve()) })
    process.stdout.write('ready\n')
    await go
    lines.close()
    process.stdin.destroy()
  }
  process.stdout.write(encodeResult(await generate(options)) + '\n')
}

main().catch((err: unknown) => {
  console.error(`open-loop generator: ${err instanceof Error ? err.message : String(err)}`)
  process.exitCode = 1
})
