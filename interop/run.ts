#!/usr/bin/env node
/**
 * The interop runner (`npm run interop`, `meshgate interop`): for every peer × direction × test
 * case, start the server side, run the client side, compare what arrived (sha256) and look for
 * the case's evidence in the logs; one result line per case, then the matrix in the terminal and
 * as JSON, Markdown and HTML under the output dir, with every cell's logs kept beside them.
 * Loopback only; every process it starts is killed when its case ends, whatever happened.
 */
import { spawnSync } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { homedir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { describeFiles, verifyDownloads, writeCaseFiles } from './cases.js'
import { endpointAvailable, meshgateClient, meshgateLimit, meshgateServer } from './meshgate.js'
import { PEERS, peerNamed } from './peers/index.js'
import { writeInteropCerts } from './pki.js'
import { freePort, ProcessGroup, waitForPort } from './process.js'
import { resultLine, terminalMatrix, writeReports, type RunSummary } from './report.js'
import {
  CASES, CASE_MEANING, DIRECTIONS,
  type CaseLogs, type CaseName, type CaseResult, type CaseRun, type CertFiles, type ClientOutcome,
  type Direction, type PeerDefinition, type RunEnvironment,
} from './types.js'

/** What one run does; every field has a default (see {@link resolveOptions}). */
export interface InteropOptions {
  peers: string[]
  cases: CaseName[]
  directions: Direction[]
  /** Output directory (default interop/out/ under the package root). */
  outDir: string
  /** Bound on one case, ms (default 30 000). */
  timeoutMs: number
  /** Also run the cells meshgate declares unsupported but that can be set up (to see what happens). */
  attemptUnsupported: boolean
  /** Loopback address every process binds to (127.0.0.1 or ::1). */
  host: string
  /** Called with each finished cell (the runner prints one line each). */
  onResult?: (result: CaseResult) => void
  /** Progress lines (peer availability, builds). */
  onNote?: (line: string) => void
}

const DEFAULT_TIMEOUT_S = 30

/** The package root: two levels above dist/interop/run.js, one above interop/run.ts. */
export function packageRoot (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (let i = 0; i < 4; i++) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string }
      if (manifest.name === 'meshgate') return dir
    } catch { /* not here */ }
    dir = dirname(dir)
  }
  throw new Error('meshgate package.json not found above ' + fileURLToPath(import.meta.url))
}

const HELP = `meshgate interop — run meshgate's QUIC/HTTP/3 binding and h2 transport against other stacks

Usage: npm run interop -- [options]      (or: meshgate interop [options])

Options:
  --peers=LIST         comma-separated, default all: ${PEERS.map(p => p.name).join(', ')}
  --cases=LIST         comma-separated, default all: ${CASES.join(', ')}
  --directions=LIST    server (peer client → meshgate server), client (meshgate client → peer server); default both
  --out=DIR            output directory (default interop/out/)
  --timeout=SECONDS    bound on each case (default ${DEFAULT_TIMEOUT_S})
  --host=ADDR          loopback address to use: 127.0.0.1 (default) or ::1
  --attempt-unsupported  also run cells meshgate declares unsupported when they can be set up
  --list               print the peers and cases and exit
  -h, --help           print this text

Cases:
${CASES.map(c => `  ${c.padEnd(20)} ${CASE_MEANING[c]}`).join('\n')}

Every cell ends as pass, fail or unsupported (with the reason). Exit status: 0 when nothing
failed, 1 when a cell failed, 2 on a usage error. The runner installs nothing: a missing peer is
reported "not installed" with the apt-get command.
`

class UsageError extends Error {}

function list<T extends string> (value: string | undefined, all: readonly T[], what: string): T[] {
  if (value === undefined || value === '' || value === 'all') return [...all]
  const items = value.split(',').map(s => s.trim()).filter(s => s !== '')
  const unknown = items.filter(i => !(all as readonly string[]).includes(i))
  if (unknown.length > 0) throw new UsageError(`unknown ${what}: ${unknown.join(', ')} (known: ${all.join(', ')})`)
  return items as T[]
}

/** Parses the command line; `undefined` means help or list was printed. */
export function resolveOptions (argv: string[], root: string): InteropOptions | 'help' | 'list' {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        peers: { type: 'string' },
        cases: { type: 'string' },
        directions: { type: 'string' },
        out: { type: 'string' },
        timeout: { type: 'string' },
        host: { type: 'string', default: '127.0.0.1' },
        'attempt-unsupported': { type: 'boolean', default: false },
        list: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    })
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err))
  }
  const { values } = parsed
  if (values.help) return 'help'
  if (values.list) return 'list'
  const timeout = Number(values.timeout ?? DEFAULT_TIMEOUT_S)
  if (!Number.isFinite(timeout) || timeout <= 0) throw new UsageError(`--timeout must be a positive number of seconds, not "${values.timeout ?? ''}"`)
  if (values.host !== '127.0.0.1' && values.host !== '::1') throw new UsageError(`--host must be 127.0.0.1 or ::1 (loopback only), not "${values.host}"`)
  return {
    peers: list(values.peers, PEERS.map(p => p.name), 'peer'),
    cases: list(values.cases, CASES, 'case'),
    directions: list(values.directions, DIRECTIONS, 'direction'),
    outDir: resolve(values.out ?? join(root, 'interop', 'out')),
    timeoutMs: timeout * 1000,
    attemptUnsupported: values['attempt-unsupported'],
    host: values.host,
  }
}

/** Every process group of a case still running, so a signal to the runner can end them. */
const activeGroups = new Set<ProcessGroup>()
const activeAborts = new Set<AbortController>()

/** Ends every case in progress (processes killed); used on SIGINT/SIGTERM. */
export async function abortAll (): Promise<void> {
  for (const c of activeAborts) c.abort(new Error('interrupted'))
  await Promise.all([...activeGroups].map(async g => await g.killAll()))
}

interface Context {
  env: RunEnvironment
  options: InteropOptions
  certs: CertFiles
  /** Why meshgate's HTTP/3 side cannot run at all, if so (addon not built). */
  quicMissing: string | undefined
}

function unsupported (peer: string, direction: Direction, testCase: CaseName, reason: string): CaseResult {
  return { peer, direction, testCase, status: 'unsupported', reason, durationMs: 0, logs: '' }
}

function readLogs (dir: string): CaseLogs {
  const byLabel: Record<string, string> = {}
  for (const name of readdirSync(dir)) {
    if (name.endsWith('.log')) byLabel[name.slice(0, -4)] = readFileSync(join(dir, name), 'utf8')
  }
  return { server: byLabel.server ?? '', client: byLabel.client ?? '', byLabel }
}

/** The last lines of a log, for a failure's reason. */
function tail (text: string, lines = 3): string {
  return text.trim().split('\n').filter(l => l.trim() !== '').slice(-lines).join(' | ').slice(0, 400)
}

/**
 * What a passed cell proved beyond the bytes, in its reason; every peer that runs one of these
 * cases checks it in its `evidence` (an unchecked case would not pass).
 */
const PROOF: Partial<Record<CaseName, string>> = {
  chacha20: 'TLS_CHACHA20_POLY1305_SHA256 negotiated',
  keyupdate: 'key update confirmed',
  retry: 'Retry sent and its token validated',
  resumption: 'TLS session resumed',
  zerortt: 'request sent in 0-RTT',
  connectionmigration: 'new path validated',
}

/** Evidence on meshgate's own side of the cell (ALPN, mutual TLS, one connection). */
function meshgateEvidence (run: CaseRun, peer: PeerDefinition, logs: CaseLogs): string | undefined {
  if (peer.protocol !== 'h3') return undefined
  const ours = run.direction === 'server' ? logs.server : logs.client
  const sessions = [...ours.matchAll(/(?:session|handshake ok) alpn=(\S+) peer=(.*)$/gm)]
  if (sessions.length === 0) return 'meshgate logged no completed handshake'
  if (sessions.some(m => m[1] !== 'h3')) return `ALPN was ${sessions.map(m => m[1]).join(', ')}, not h3`
  if (run.direction === 'server' && peer.clientCertificate !== false && sessions.some(m => !(m[2] ?? '').startsWith('spiffe://'))) {
    return 'our server did not see the client certificate\'s SPIFFE ID'
  }
  if (run.testCase === 'multiplexing' && sessions.length > 1) return `${sessions.length} connections were used, expected one`
  return undefined
}

async function runCell (ctx: Context, peer: PeerDefinition, direction: Direction, testCase: CaseName): Promise<CaseResult> {
  const { options, env } = ctx
  const peerRole = direction === 'server' ? 'client' : 'server'
  if (peer.protocol === 'h3' && ctx.quicMissing !== undefined) return unsupported(peer.name, direction, testCase, ctx.quicMissing)
  const limit = meshgateLimit(peer.protocol, direction, testCase)
  if (limit !== undefined && !(options.attemptUnsupported && limit.runnable)) return unsupported(peer.name, direction, testCase, limit.reason)
  const peerLimit = peer.supports(testCase, peerRole) ??
    ((direction === 'server' ? peer.client : peer.server) === undefined ? `${peer.name} has no ${peerRole}` : undefined)
  if (peerLimit !== undefined) return unsupported(peer.name, direction, testCase, `${peerLimit.startsWith(peer.name) ? '' : `${peer.name}: `}${peerLimit}`)

  const dir = join(env.outDir, 'logs', peer.name, direction, testCase)
  rmSync(dir, { recursive: true, force: true })
  const www = join(dir, 'www')
  const download = join(dir, 'download')
  mkdirSync(www, { recursive: true })
  mkdirSync(download, { recursive: true })
  const files = writeCaseFiles(testCase, www)
  const port = await freePort(options.host)
  const controller = new AbortController()
  const group = new ProcessGroup()
  activeGroups.add(group)
  activeAborts.add(controller)
  const run: CaseRun = {
    testCase,
    direction,
    host: options.host,
    port,
    certs: ctx.certs,
    www,
    download,
    dir,
    files,
    signal: controller.signal,
    spawn: (label, launch) => group.start(launch, join(dir, `${label}.log`)),
  }
  const started = Date.now()
  const timer = setTimeout(() => controller.abort(new Error('case time limit')), options.timeoutMs)
  const timedOut = new Promise<ClientOutcome>(resolve => controller.signal.addEventListener('abort', () => {
    const interrupted = controller.signal.reason instanceof Error && controller.signal.reason.message === 'interrupted'
    resolve({ ok: false, detail: interrupted ? 'interrupted' : `timed out after ${options.timeoutMs / 1000} s` })
  }, { once: true }))
  let outcome: ClientOutcome
  try {
    const serverLaunch = direction === 'server'
      ? meshgateServer(run, peer.protocol, peer.clientCertificate !== false)
      : (peer.server as NonNullable<PeerDefinition['server']>)(run)
    const server = run.spawn('server', serverLaunch)
    await Promise.race([waitForPort(port, peer.protocol === 'h2' ? 'tcp' : 'udp', server, controller.signal), timedOut])
    const client = direction === 'server'
      ? (peer.client as NonNullable<PeerDefinition['client']>)(run)
      : meshgateClient(run, true)
    outcome = await Promise.race([client, timedOut])
    client.catch(() => {})
  } catch (err) {
    outcome = { ok: false, detail: err instanceof Error ? err.message : String(err) }
  } finally {
    clearTimeout(timer)
    await group.killAll()
    activeGroups.delete(group)
    activeAborts.delete(controller)
  }
  const durationMs = Date.now() - started
  const logs = readLogs(dir)
  const result = (status: 'pass' | 'fail', reason: string): CaseResult =>
    ({ peer: peer.name, direction, testCase, status, reason, durationMs, logs: relative(env.outDir, dir) })
  if (!outcome.ok) return result('fail', `${outcome.detail}${tail(logs.client) === '' ? '' : `: ${tail(logs.client)}`}`)
  const transferProblem = await verifyDownloads(files, download, outcome)
  if (transferProblem !== undefined) return result('fail', transferProblem)
  const missing = meshgateEvidence(run, peer, logs) ?? peer.evidence?.(run, logs)
  if (missing !== undefined) return result('fail', missing)
  // The served and downloaded bytes of a passed cell are not worth the disk (up to 20 MiB each).
  rmSync(www, { recursive: true, force: true })
  rmSync(download, { recursive: true, force: true })
  const compared = outcome.sizes === undefined ? 'sha256 equal' : 'sizes equal (the client cannot save bodies to hash)'
  const proof = PROOF[testCase] === undefined ? '' : `, ${PROOF[testCase] ?? ''} (peer log)`
  return result('pass', `${describeFiles(files)}, ${compared}${proof}${outcome.detail === '' ? '' : `; ${outcome.detail}`}`)
}

function versionOf (command: string, args: string[]): string | undefined {
  const out = spawnSync(command, args, { encoding: 'utf8', timeout: 10_000 })
  if (out.status !== 0) return undefined
  return `${out.stdout}${out.stderr}`.trim().split('\n')[0]
}

async function collectVersions (peers: PeerDefinition[], quicMissing: string | undefined): Promise<Record<string, string>> {
  const versions: Record<string, string> = { node: process.version }
  if (quicMissing === undefined) {
    const { loadQuic } = await import('../native/index.js')
    const v = loadQuic().versions
    versions['meshgate QUIC binding'] = `libngtcp2 ${v.ngtcp2}, libnghttp3 ${v.nghttp3}, GnuTLS ${v.gnutls}`
  }
  const packages = [...new Set(peers.flatMap(p => p.packages))]
  // dpkg-query's own format syntax, not a template literal.
  // eslint-disable-next-line no-template-curly-in-string
  const dpkg = spawnSync('dpkg-query', ['-W', '-f=${Package} ${Version}\\n', ...packages], { encoding: 'utf8' })
  for (const line of (dpkg.stdout ?? '').split('\n')) {
    const [name, version] = line.split(' ')
    if (name !== undefined && name !== '' && version !== undefined && version !== '') versions[`deb ${name}`] = version
  }
  const go = versionOf('go', ['version'])
  if (go !== undefined && peers.some(p => p.name === 'quic-go')) versions.go = go
  return versions
}

/** Runs the matrix and returns it (nothing printed unless onResult/onNote print). */
export async function runMatrix (options: InteropOptions): Promise<RunSummary> {
  const root = packageRoot()
  const started = new Date()
  const cacheBase = process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache')
  const env: RunEnvironment = { root, outDir: options.outDir, cacheDir: join(cacheBase, 'meshgate', 'interop') }
  mkdirSync(options.outDir, { recursive: true })
  try {
    mkdirSync(env.cacheDir, { recursive: true })
  } catch {
    // A read-only or missing home (some CI runners): keep the cache with this run's output.
    env.cacheDir = join(options.outDir, '.cache')
    mkdirSync(env.cacheDir, { recursive: true })
  }
  const note = options.onNote ?? (() => {})
  const { quicAvailable, QUIC_INSTALL_HINT } = await import('../native/index.js')
  let quicMissing: string | undefined
  if (!endpointAvailable()) quicMissing = 'meshgate: interop endpoint not compiled (npx tsc -p tsconfig.json)'
  else if (!quicAvailable()) quicMissing = `meshgate: QUIC addon not built (${QUIC_INSTALL_HINT})`
  if (quicMissing !== undefined) note(quicMissing)
  const certs = await writeInteropCerts(join(options.outDir, 'certs'))
  const ctx: Context = { env, options, certs, quicMissing }
  const peers = options.peers.map(name => peerNamed(name) as PeerDefinition)
  const results: CaseResult[] = []
  const unavailable: Record<string, string> = {}
  const emit = (r: CaseResult): void => {
    results.push(r)
    options.onResult?.(r)
  }
  for (const peer of peers) {
    note(`${peer.name}: ${peer.description}`)
    const missing = await peer.available(env)
    if (missing !== undefined) {
      unavailable[peer.name] = missing
      note(`${peer.name}: ${missing}`)
    }
    // A client-only peer (Chromium, curl, nghttp) has no "meshgate → peer" row at all.
    const directions = options.directions.filter(d => (d === 'server' ? peer.client : peer.server) !== undefined)
    for (const direction of directions) {
      for (const testCase of options.cases) {
        emit(missing !== undefined
          ? unsupported(peer.name, direction, testCase, `${peer.name}: ${missing}`)
          : await runCell(ctx, peer, direction, testCase))
      }
    }
  }
  return {
    started: started.toISOString(),
    durationMs: Date.now() - started.getTime(),
    command: ['meshgate interop', ...process.argv.slice(2)].join(' '),
    versions: await collectVersions(peers, quicMissing),
    unavailable,
    results,
  }
}

/** The command: parse, run, print, write the reports. Resolves to the exit status. */
export async function runInterop (argv: string[]): Promise<number> {
  const root = packageRoot()
  let options
  try {
    options = resolveOptions(argv, root)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    process.stderr.write(`meshgate interop: ${err.message}\nRun with --help for the options.\n`)
    return 2
  }
  if (options === 'help') {
    process.stdout.write(HELP)
    return 0
  }
  if (options === 'list') {
    for (const p of PEERS) process.stdout.write(`${p.name.padEnd(10)} ${p.protocol}  ${p.description} (apt: ${p.packages.join(' ')})\n`)
    for (const c of CASES) process.stdout.write(`${c.padEnd(20)} ${CASE_MEANING[c]}\n`)
    return 0
  }
  const colour = process.stdout.isTTY === true
  const onSignal = (signal: NodeJS.Signals): void => {
    process.stderr.write(`\nmeshgate interop: ${signal}, stopping every peer\n`)
    abortAll().finally(() => process.exit(130))
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    const summary = await runMatrix({
      ...options,
      onResult: (r) => process.stdout.write(resultLine(r, colour) + '\n'),
      onNote: (line) => process.stderr.write(`# ${line}\n`),
    })
    const viaCli = (process.argv[1] ?? '').endsWith('cli.js')
    summary.command = [viaCli ? 'meshgate interop' : 'npm run interop --', ...argv].join(' ').replace(/ --$/, '')
    process.stdout.write('\n' + terminalMatrix(summary, colour))
    const written = writeReports(summary, options.outDir)
    process.stdout.write(`reports: ${written.map(p => relative(process.cwd(), p) || p).join(', ')}; logs under ${relative(process.cwd(), join(options.outDir, 'logs')) || '.'}\n`)
    return summary.results.some(r => r.status === 'fail') ? 1 : 0
  } finally {
    process.removeListener('SIGINT', onSignal)
    process.removeListener('SIGTERM', onSignal)
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  runInterop(process.argv.slice(2)).then((code) => { process.exitCode = code }, (err: unknown) => {
    process.stderr.write(`meshgate interop: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
    process.exitCode = 1
  })
}
