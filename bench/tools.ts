/**
 * The load generators: runs Debian's `wrk`, `h2load` (nghttp2-client) and `iperf3` and parses what
 * they print into numbers. The parsers are exported on their own so they can be checked against
 * captured output.
 */
import { execFile } from 'node:child_process'
import { readFile, rm } from 'node:fs/promises'
import { killOnExit } from './processes.js'

/** Result of a request-rate run. */
export interface RequestRate {
  /** Successful requests per second. */
  requestsPerSecond: number
  /** Median latency, ms. */
  p50Ms: number
  /** 99th percentile latency, ms. */
  p99Ms: number
  /** Requests that failed: socket errors, timeouts, non-2xx/3xx answers. */
  errors: number
  /** Requests completed in all. */
  requests: number
}

/** Result of a bulk-transfer run. */
export interface Throughput {
  /** Payload megabytes (10^6 bytes) per second received by the server. */
  megabytesPerSecond: number
  /** Bytes received by the server. */
  bytes: number
  /** TCP retransmissions reported by the sender. */
  retransmits: number
}

interface RunResult {
  stdout: string
  stderr: string
  code: number
}

async function run (command: string, args: string[], timeoutMs: number): Promise<RunResult> {
  return await new Promise((resolve, reject) => {
    const child = execFile(command, args, { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err !== null && typeof err.code !== 'number') {
        reject(new Error(`${command} ${args.join(' ')}: ${err.message}\n${stderr}`))
        return
      }
      resolve({ stdout, stderr, code: err === null ? 0 : Number(err.code) })
    })
    killOnExit(child)
  })
}

const TIME_UNITS_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 }

function durationMs (text: string): number {
  const match = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim())
  if (match === null) throw new Error(`not a duration: ${text}`)
  return Number(match[1]) * (TIME_UNITS_MS[match[2]] ?? NaN)
}

/** Parses `wrk --latency` output. */
export function parseWrk (output: string): RequestRate {
  const rate = /^Requests\/sec:\s+([\d.]+)/m.exec(output)
  const p50 = /^\s+50%\s+(\S+)/m.exec(output)
  const p99 = /^\s+99%\s+(\S+)/m.exec(output)
  const total = /^\s*(\d+) requests in/m.exec(output)
  if (rate === null || p50 === null || p99 === null || total === null) throw new Error(`cannot parse wrk output:\n${output}`)
  let errors = 0
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output)
  if (socket !== null) errors += socket.slice(1).reduce((sum, n) => sum + Number(n), 0)
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(output)
  if (non2xx !== null) errors += Number(non2xx[1])
  const requests = Number(total[1])
  const requestsPerSecond = Number(rate[1]) * (requests === 0 ? 0 : Math.max(0, requests - errors) / requests)
  return { requestsPerSecond, p50Ms: durationMs(p50[1]), p99Ms: durationMs(p99[1]), errors, requests }
}

export interface WrkOptions {
  url: string
  threads: number
  connections: number
  durationSeconds: number
  /** Extra request headers, `Name: value`. */
  headers?: string[]
  /** A wrk Lua script (`-s`), e.g. one that sets the method and body. */
  script?: string
}

/** HTTP/1.1 keep-alive load at fixed concurrency. */
export async function runWrk (options: WrkOptions): Promise<RequestRate> {
  const args = [`-t${options.threads}`, `-c${options.connections}`, `-d${options.durationSeconds}s`, '--latency', '--timeout', '5s']
  for (const header of options.headers ?? []) args.push('-H', header)
  if (options.script !== undefined) args.push('-s', options.script)
  args.push(options.url)
  const result = await run('wrk', args, (options.durationSeconds + 30) * 1000)
  return succeeded(parseWrk(result.stdout), options.durationSeconds)
}

/** A run in which no request succeeded is a failure, not a figure of zero. */
function succeeded (rate: RequestRate, durationSeconds: number): RequestRate {
  if (!(rate.requestsPerSecond > 0)) {
    throw new Error(`no successful response in ${durationSeconds} s (${rate.requests} completed, ${rate.errors} errors)`)
  }
  return rate
}

/** Value at fraction `q` (0..1) of sorted numbers, nearest rank. */
export function percentile (sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))
  return sorted[rank] ?? NaN
}

/**
 * Parses h2load: the summary it prints, and its `--log-file` (one line per request:
 * start time µs, status, duration µs) for the latency percentiles, which h2load 1.52 does not print.
 */
export function parseH2load (output: string, log: string): RequestRate {
  const finished = /finished in ([\d.]+)s, ([\d.]+) req\/s/.exec(output)
  const counts = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(output)
  const statuses = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(output)
  if (finished === null || counts === null || statuses === null) throw new Error(`cannot parse h2load output:\n${output}`)
  const seconds = Number(finished[1])
  // `succeeded` counts finished 2xx/3xx requests; the status-code line also counts responses
  // whose stream had not finished when the run ended.
  const ok = Number(counts[4])
  const done = Number(counts[3])
  const durations: number[] = []
  for (const line of log.split('\n')) {
    const fields = line.split('\t')
    if (fields.length < 3) continue
    const status = Number(fields[1])
    if (status >= 200 && status < 400) durations.push(Number(fields[2]) / 1000)
  }
  durations.sort((a, b) => a - b)
  return {
    requestsPerSecond: seconds > 0 ? ok / seconds : 0,
    p50Ms: percentile(durations, 0.5),
    p99Ms: percentile(durations, 0.99),
    errors: Number(counts[5]) + Number(counts[6]) + Number(counts[7]) + Number(statuses[3]) + Number(statuses[4]),
    requests: done,
  }
}

export interface H2loadOptions {
  url: string
  clients: number
  streamsPerClient: number
  durationSeconds: number
  /** Where h2load writes its per-request log (removed afterwards). */
  logFile: string
  /** Extra request headers, `name: value` (`:authority: x` overrides the authority). */
  headers?: string[]
}

/** HTTP/2 prior-knowledge (h2c for http:// URLs) load: `clients` connections × `streamsPerClient` streams. */
export async function runH2load (options: H2loadOptions): Promise<RequestRate> {
  const args = [`-c${options.clients}`, `-m${options.streamsPerClient}`, `-D${options.durationSeconds}`, `--log-file=${options.logFile}`]
  for (const header of options.headers ?? []) args.push('-H', header)
  args.push(options.url)
  const result = await run('h2load', args, (options.durationSeconds + 30) * 1000)
  try {
    return succeeded(parseH2load(result.stdout, await readFile(options.logFile, 'utf8').catch(() => '')), options.durationSeconds)
  } finally {
    await rm(options.logFile, { force: true })
  }
}

interface Iperf3Json {
  error?: string
  end?: {
    sum_received?: { bytes?: number, seconds?: number }
    sum_sent?: { retransmits?: number }
  }
}

/** Parses `iperf3 -J` client output. */
export function parseIperf3 (output: string): Throughput {
  let json: Iperf3Json
  try {
    json = JSON.parse(output) as Iperf3Json
  } catch {
    throw new Error(`cannot parse iperf3 output:\n${output.slice(0, 2000)}`)
  }
  if (json.error !== undefined) throw new Error(`iperf3: ${json.error}`)
  const received = json.end?.sum_received
  if (received?.bytes === undefined || received.seconds === undefined || received.seconds <= 0) {
    throw new Error('iperf3 output has no end.sum_received')
  }
  return {
    megabytesPerSecond: received.bytes / received.seconds / 1e6,
    bytes: received.bytes,
    retransmits: json.end?.sum_sent?.retransmits ?? 0,
  }
}

export interface Iperf3Options {
  port: number
  durationSeconds: number
  /** Parallel data streams (default 1). */
  streams?: number
}

/** One TCP bulk transfer client → server through whatever listens on `port`. */
export async function runIperf3 (options: Iperf3Options): Promise<Throughput> {
  const args = ['-c', '127.0.0.1', '-p', String(options.port), '-t', String(options.durationSeconds), '-P', String(options.streams ?? 1), '-J', '--connect-timeout', '5000']
  const result = await run('iperf3', args, (options.durationSeconds + 30) * 1000)
  return parseIperf3(result.stdout)
}
