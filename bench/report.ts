/**
 * Renders a bench run: the Markdown report (also printed to the terminal) and the JSON one with
 * every raw measurement, written to bench/out/report.md and report.json.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { BenchSummary, PathFigures } from './summary.js'
import type { SuiteResults } from './suite.js'
import { NATIVE_PART_1, NATIVE_PART_2, type TargetResult } from './targets.js'

export interface BenchEnvironment {
  cpus: number
  node: string
  /** Git commit of the checkout whose dist/ was measured. */
  revision: string
  /** First line of each tool's version output. */
  tools: Record<string, string>
}

export interface BenchReport {
  /** ISO 8601 start time (UTC). */
  date: string
  command: string
  options: { rounds: number, durationSeconds: number, warmupSeconds: number }
  environment: BenchEnvironment
  loadAverage: SuiteResults['loadAverage']
  summary: BenchSummary
  targets: TargetResult[]
  raw: SuiteResults
}

/** A Markdown table with padded columns, readable in a terminal as it is. */
export function table (head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: readonly string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`
  return [line(head), `| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`, ...rows.map(line)].join('\n')
}

function num (value: number | undefined, digits = 1): string {
  return value === undefined || !Number.isFinite(value) ? '–' : value.toFixed(digits)
}

function times (value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? '–' : `${value.toFixed(2)}×`
}

function mb (bytes: number | undefined): string {
  return bytes === undefined ? '–' : (bytes / 1e6).toFixed(1)
}

function perProcess (record: Record<string, number>, format: (v: number) => string): string {
  const entries = Object.entries(record)
  return entries.length === 0 ? '–' : entries.map(([name, v]) => `${name.replace(/^(meshgate|haproxy)-/, '')} ${format(v)}`).join(', ')
}

function scenarioRow (f: PathFigures, unit: string): string[] {
  const value = f.value === undefined ? `FAILED: ${(f.error ?? 'no measurement').slice(0, 70)}` : `${num(f.value, 0)} ${unit}`
  return [
    f.title,
    value,
    num(f.p50Ms, 2),
    num(f.p99Ms, 2),
    times(f.vsDirect),
    times(f.vsHaproxyPair),
    num(f.cpuPerUnit, unit === 'req/s' ? 1 : 2),
    times(f.cpuVsHaproxyPair),
    perProcess(f.cpuSeconds, (v) => v.toFixed(2)),
    perProcess(f.peakRssBytes, mb),
    f.values.map((v) => v.toFixed(0)).join(' / '),
  ]
}

function openLoopRow (f: PathFigures): string[] {
  if (f.value === undefined) return [f.title, num(f.offeredRate, 0), `FAILED: ${(f.error ?? 'no measurement').slice(0, 70)}`, ...Array<string>(11).fill('–')]
  return [
    f.title,
    num(f.offeredRate, 0),
    num(f.value, 0),
    num(f.p50Ms, 2),
    num(f.p90Ms, 2),
    num(f.p99Ms, 2),
    num(f.maxMs, 1),
    String(f.errors),
    f.queued === undefined ? '–' : String(f.queued),
    times(f.p99VsHaproxyPair),
    perProcess(f.cpuPerUnitByProcess, (v) => v.toFixed(1)),
    num(f.cpuPerUnit, 1),
    times(f.cpuVsHaproxyPair),
    perProcess(f.peakRssBytes, mb),
  ]
}

export function renderMarkdown (report: BenchReport): string {
  const out: string[] = []
  out.push('# meshgate bench report', '')
  out.push(`- Date: ${report.date}`)
  out.push(`- Command: \`${report.command}\``)
  out.push(`- ${report.options.rounds} rounds × ${report.options.durationSeconds} s per scenario and path, paths interleaved within each round, after an unmeasured warm-up of ${report.options.warmupSeconds} s each; figures are medians over rounds`)
  out.push(`- Machine: ${report.environment.cpus} CPUs, Node ${report.environment.node}; load average ${report.loadAverage.start.map((v) => v.toFixed(2)).join(' ')} at start, ${report.loadAverage.end.map((v) => v.toFixed(2)).join(' ')} at end (shared machine: compare ratios, not absolute figures)`)
  out.push(`- meshgate: ${report.environment.revision} (dist/ as built by \`npx tsc -p tsconfig.json\`)`)
  out.push(`- Tools: ${Object.values(report.environment.tools).join('; ')}`)
  for (const described of report.summary.memory.filter((m) => m.available && m.description !== undefined)) {
    out.push(`- ${described.title}: ${described.description ?? ''}`)
  }
  out.push('')
  for (const missing of report.summary.memory.filter((m) => !m.available && m.reason !== undefined)) {
    out.push(`**${missing.title}: not available** — ${missing.reason ?? ''}`, '')
  }

  const issues = [...new Set(report.targets.map((t) => t.issue))]
  if (issues.length === 0) out.push('## Targets', '', 'No meshgate path in this run: no targets checked.', '')
  for (const issue of issues) {
    out.push(`## Targets: ${issue}`, '')
    if (issue === NATIVE_PART_2) {
      out.push('Issue 11. Ratios are to the HAProxy pair measured in the same run; set for the native path, the js path shown against the same figures. RSS under load is the highest VmRSS sampled (every 100 ms) during any scenario of the run. Cold start\'s target (first-second p99 within 2× the steady state) is in cold-start.md; what the stack under meshgate idles at without meshgate, set against the idle-RSS target, in idle-floor.md.', '')
    }
    if (issue === NATIVE_PART_1) {
      out.push('Ratios are to the HAProxy pair measured in the same run. The throughput and CPU targets are set for the native path; the js path is checked against the same figures for comparison.', '')
    }
    out.push(table(['path', 'target', 'measured', 'verdict'], report.targets.filter((t) => t.issue === issue).map((t) => [t.path, t.target, t.measured, t.verdict.toUpperCase()])), '')
  }

  for (const scenario of report.summary.scenarios) {
    out.push(`## ${scenario.title} (\`${scenario.tool}\`)`, '')
    if (scenario.kind === 'open-loop') {
      out.push(table(
        ['path', 'offered req/s', 'answered req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'failures', 'waited for a connection', 'p99 × HAProxy pair', 'CPU ms/s per 1,000 req/s per proxy', 'all proxies', 'CPU × HAProxy pair', 'peak RSS MB per proxy'],
        scenario.paths.map(openLoopRow)
      ), '')
      continue
    }
    out.push(table(
      ['path', scenario.unit, 'p50 ms', 'p99 ms', '× direct', '× HAProxy pair', scenario.cpuUnit, 'CPU × HAProxy pair', 'CPU s per proxy', 'peak RSS MB per proxy', `each round (${scenario.unit})`],
      scenario.paths.map((f) => scenarioRow(f, scenario.unit))
    ), '')
  }

  out.push('## Memory (RSS, MB; in brackets the JS heap in use, for Node processes)', '')
  const rounds = report.options.rounds
  const cell = (rss: number | undefined, heap: number | undefined): string => heap === undefined ? mb(rss) : `${mb(rss)} (${mb(heap)})`
  const memoryRows = report.summary.memory.flatMap((m) => m.processes.map((p) => [
    p.name,
    cell(p.idleRssBytes, p.idleHeapUsedBytes),
    mb(p.idleFileBytes),
    ...Array.from({ length: rounds }, (_, i) => cell(p.rssAfterRoundBytes[i], p.heapUsedAfterRoundBytes?.[i])),
  ]))
  out.push(table(['process', 'idle (after start)', 'of it file-backed', ...Array.from({ length: rounds }, (_, i) => `after run ${i + 1}`)], memoryRows), '')
  out.push('File-backed: RssFile from /proc/PID/status at the idle reading, the resident pages of the node (or haproxy) binary and its shared libraries. They are clean page-cache pages, shared with every process that maps the same files, so what one more proxy adds to a host is about the rest (RssAnon: heaps, stacks, the JS heap).', '')

  out.push('## How it is measured', '')
  out.push('- **direct**: the load tool talks to the upstream itself. **HAProxy pair**: two Debian haproxy 2.6 processes, `nbthread 1` each; the client side takes HTTP/1.1, h2c (HTTP mode) and raw TCP (TCP mode) and re-encrypts to the server side with mutual TLS 1.3 (`ssl crt … ca-file … verify required`, ALPN `h2` for HTTP); the server side requires a client certificate from the mesh CA and forwards in plaintext. **meshgate native** and **meshgate js**: the meshgate pair, `node dist/src/cli.js run` twice, an outbound-only and an inbound-only process, one h2 + mTLS peer session between them; the two paths differ only in `dataPlane:` in both configs: `native` (the h2 engine addon, native/engine/: nghttp2 + GnuTLS) or `js` (node:http2). Each checks after start that both processes report that data plane on their admin `/config`; the native path is skipped, with the reason, when the engine addon does not load here (`h2NativeAvailability()`). TCP tunnels: from commit 0acbcb9 on, the native engine splices them itself (JS hears only their open and close); before it, and on the js path, their bytes go through JS streams. **node floor** (when run): the thinnest correct forwarding with the same modules (bench/floor/: node:http and node:http2 in, one node:http2 + mutual TLS 1.3 session, undici Pool / node:http2 / node:net out; no routing, metrics or logs), two processes like the meshgate pair: the share of meshgate CPU that the platform costs. All certificates come from core/identity/pki.ts, fresh per run.')
  out.push('- Upstream for HTTP: a third haproxy (one thread) answering `200 ok` itself on an HTTP/1.1 port and an h2c port (`http-request return`), so the upstream is not the bottleneck as a Node server would be. Upstream for TCP: `iperf3 -s`. TCP bulk runs twice: `iperf3 -P1` (one tunnel) and `iperf3 -P4` (four tunnels at once on the one peer session).')
  out.push('- Targets of "Native data path, part 1", checked for `meshgate-native` and `meshgate-js` alike, as ratios to the HAProxy pair of the same run: TCP bulk (`-P1` and `-P4`) ≥ 0.9× its MB/s at ≤ 1.2× its CPU ms/MB (set for the native path; the js path is shown for comparison); idle RSS ≤ 50 MB per proxy; RSS after load (the highest "after run N") ≤ 80 MB per proxy; no growth from run 1 to the last (≤ max(8 MB, 10 %)).')
  out.push('- HTTP/1.1 with a body (`http1-body-1k`, `http1-body-16k`): closed loop like `http1-small` (wrk, 32 connections), `POST /` with 1 KiB or 16 KiB set by a wrk Lua script. The upstream reads each whole body before it answers (`option http-buffer-request`, `tune.bufsize 32768`).')
  out.push('- Open loop (`open-loop-500`, `-1000`, `-2000`): the bench\'s own generator (bench/open-loop/generator.ts), a Node process of its own (its CPU is not a proxy\'s), sends `POST /` with 1 KiB at the fixed rate over up to 64 keep-alive connections, request i at i/rate s whether or not earlier ones were answered, and times each from its intended send time to the end of its answer, so a stall counts in every request it delays. p50/p90/p99 are medians over rounds, max the highest of any round; failures are non-2xx/3xx answers, socket errors and requests unanswered after 5 s, summed over rounds. "Waited for a connection" counts requests that found all 64 busy: the pair fell behind the rate, and its queue is in the latencies. CPU per 1,000 req/s is CPU ms per second of load per 1,000 answered req/s, i.e. CPU µs per request.')
  out.push('- CPU seconds: utime + stime from /proc/PID/stat over the scenario; peak RSS: VmRSS from /proc/PID/status sampled every 100 ms; idle RSS: after start plus a settle pause, before any load; "after run N": after round N plus the same pause. CPU per unit is all of a path\'s proxy processes together. MB = 10^6 bytes.')
  out.push('- The load tools, the upstreams and both proxies of a pair share the same CPUs, so a faster proxy pair also leaves less CPU to the load tool; the CPU-per-unit column is the figure least disturbed by other load on the machine.')
  out.push('')
  return out.join('\n')
}

/** Writes report.md and report.json under `dir`; returns the Markdown. */
export async function writeReport (dir: string, report: BenchReport): Promise<string> {
  await mkdir(dir, { recursive: true })
  const markdown = renderMarkdown(report)
  await writeFile(join(dir, 'report.md'), markdown)
  await writeFile(join(dir, 'report.json'), JSON.stringify(report, null, 2) + '\n')
  return markdown
}
