/**
 * `npm run bench`: the entry point. Reads options, makes certificates and upstreams, runs the
 * suite over the direct, HAProxy-pair, node-floor, meshgate-native and meshgate-js paths (the
 * meshgate pair with `dataPlane: native` and `dataPlane: js`; the native one is skipped with its
 * reason when the engine addon does not load), prints the report and writes it to bench/out/.
 * Every process it started is stopped at the end, also on failure or Ctrl-C.
 *
 *   node dist/bench/run.js [--rounds 3] [--duration 6] [--paths direct,haproxy-pair,node-floor,meshgate-native,meshgate-native-h3,meshgate-js]
 *                          [--scenarios http1-small,h2c-small,tcp-bulk,tcp-bulk-p4] [--out bench/out] [--settle 2000]
 *                          [--warmup 1] [--slow-endpoint 10] [--h3-vs-h2 6] [--metrics-cost 6]
 *                          [--metrics-cost-rounds 8] [--gateway-hop 6] [--cold-start 10] [--cold-start-rounds N]
 *                          [--idle-floor 3]
 *
 * After the path matrix, issue 3's balancer comparison (scenarios/slow-endpoint.ts) runs on its
 * own: `--slow-endpoint S` seconds per balancer per round (0 skips it). Then issue 5's transport
 * comparison (scenarios/h3-vs-h2.ts): `--h3-vs-h2 S` seconds per scenario per transport per round
 * (0 skips it; skipped with a line when the QUIC addon is not built). Then issue 4's metrics cost
 * (scenarios/metrics-cost.ts): `--metrics-cost S` seconds per scenario per variant per round (0 skips it),
 * `--metrics-cost-rounds N` rounds of it (8: a 5 % target needs more rounds than the path matrix);
 * its variants run at the same time, with an identical control pair that shows the method's error.
 * Then issue 12's gateway hop (scenarios/gateway-hop.ts): `--gateway-hop S` seconds per scenario per
 * path per round (0 skips it): the direct pair against the multi-cluster path, e2e and terminate.
 * Then issue 11's cold start (scenarios/cold-start.ts) on the `--paths` it knows (haproxy-pair,
 * meshgate-native, meshgate-js): `--cold-start S` seconds of 1,000 req/s open loop from the moment
 * each freshly started pair is ready (0 skips it), `--cold-start-rounds N` starts per path (--rounds).
 * Last, the floor under the idle-RSS target (scenarios/idle-floor.ts): `--idle-floor N` starts of
 * each layer of the stack meshgate is built on, without meshgate (0 skips it).
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, rm } from 'node:fs/promises'
import { cpus } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { makeCertificates } from './certs.js'
import { HAPROXY_BINARY } from './haproxy.js'
import { directPath } from './paths/direct.js'
import { haproxyPairPath } from './paths/haproxy-pair.js'
import { meshgateJsPath, meshgateNativeH3Path, meshgateNativePath } from './paths/meshgate-pair.js'
import { nodeFloorPath } from './paths/node-floor.js'
import type { PathDefinition } from './paths/types.js'
import { writeReport, type BenchEnvironment } from './report.js'
import { scenarios as allScenarios } from './scenarios/index.js'
import { COLD_START_PATHS, runAndWriteColdStart } from './scenarios/cold-start.js'
import { runAndWriteIdleFloor } from './scenarios/idle-floor.js'
import { runAndWriteGatewayHop } from './scenarios/gateway-hop.js'
import { runAndWriteH3VsH2 } from './scenarios/h3-vs-h2.js'
import { runAndWriteMetricsCost } from './scenarios/metrics-cost.js'
import { runAndWriteSlowEndpoint } from './scenarios/slow-endpoint.js'
import { summarise } from './summary.js'
import { runSuite } from './suite.js'
import { checkTargets, MESHGATE_PATHS } from './targets.js'
import { startUpstreams } from './upstreams.js'

/** dist/bench/run.js → the repository root. */
const REPO_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')

const ALL_PATHS: readonly PathDefinition[] = [directPath, haproxyPairPath, nodeFloorPath, meshgateNativePath, meshgateNativeH3Path, meshgateJsPath]

/** The tools the bench runs, with the Debian package that has each. */
const TOOLS: ReadonlyArray<{ command: string, versionArgs: string[], apt: string }> = [
  { command: HAPROXY_BINARY, versionArgs: ['-v'], apt: 'haproxy' },
  { command: 'wrk', versionArgs: ['-v'], apt: 'wrk' },
  { command: 'h2load', versionArgs: ['--version'], apt: 'nghttp2-client' },
  { command: 'iperf3', versionArgs: ['--version'], apt: 'iperf3' },
]

async function toolVersion (command: string, args: string[]): Promise<string | undefined> {
  return await new Promise((resolve) => {
    execFile(command, args, { timeout: 5_000 }, (err, stdout, stderr) => {
      if (err !== null && typeof err.code !== 'number') { resolve(undefined); return }
      resolve(`${stdout}${stderr}`.split('\n').find((l) => l.trim() !== '')?.trim())
    })
  })
}

/** The commit dist/ was most likely built from, and how many source files differ from it. */
async function revision (): Promise<string> {
  const git = async (args: string[]): Promise<string> => await new Promise((resolve) => {
    execFile('git', args, { cwd: REPO_DIR, timeout: 5_000 }, (err, stdout) => resolve(err === null ? stdout.trim() : ''))
  })
  const head = await git(['rev-parse', '--short', 'HEAD'])
  if (head === '') return 'unknown (not a git checkout)'
  const dirty = (await git(['status', '--porcelain', '--', 'src', 'transports', 'native'])).split('\n').filter((l) => l !== '').length
  return dirty === 0 ? head : `${head} + ${dirty} uncommitted file(s) in src/, transports/, native/`
}

function pick<T extends { id: string }> (all: readonly T[], list: string | undefined, what: string): T[] {
  if (list === undefined) return [...all]
  return list.split(',').map((id) => {
    const found = all.find((item) => item.id === id.trim())
    if (found === undefined) throw new Error(`unknown ${what} "${id}" (known: ${all.map((i) => i.id).join(', ')})`)
    return found
  })
}

async function main (): Promise<number> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '6' },
      paths: { type: 'string' },
      scenarios: { type: 'string' },
      out: { type: 'string', default: join(REPO_DIR, 'bench', 'out') },
      settle: { type: 'string', default: '2000' },
      warmup: { type: 'string', default: '1' },
      'slow-endpoint': { type: 'string', default: '10' },
      'h3-vs-h2': { type: 'string', default: '6' },
      'metrics-cost': { type: 'string', default: '6' },
      'metrics-cost-rounds': { type: 'string', default: '8' },
      'gateway-hop': { type: 'string', default: '6' },
      'cold-start': { type: 'string', default: '10' },
      'cold-start-rounds': { type: 'string' },
      'idle-floor': { type: 'string', default: '3' },
    },
  })
  const rounds = Number(values.rounds)
  const durationSeconds = Number(values.duration)
  const settleMs = Number(values.settle)
  const warmupSeconds = Number(values.warmup)
  if (!(rounds >= 1 && durationSeconds >= 1 && settleMs >= 0 && (warmupSeconds === 0 || warmupSeconds >= 1))) {
    throw new Error('--rounds and --duration must be ≥ 1, --settle ≥ 0, --warmup 0 or ≥ 1')
  }
  const coldSeconds = Number(values['cold-start'])
  const coldRounds = values['cold-start-rounds'] === undefined ? rounds : Number(values['cold-start-rounds'])
  if (!((coldSeconds === 0 || coldSeconds >= 2) && coldRounds >= 1)) {
    throw new Error('--cold-start must be 0 or ≥ 2 (its first second is set against a later steady state), --cold-start-rounds ≥ 1')
  }
  if (!(Number(values['idle-floor']) >= 0)) throw new Error('--idle-floor must be 0 (skip) or a number of starts per layer')
  const paths = pick(ALL_PATHS, values.paths, 'path')
  const scenarios = pick(allScenarios, values.scenarios, 'scenario')
  const date = new Date().toISOString()
  const command = ['npm run bench', ...(process.argv.length > 2 ? ['--', ...process.argv.slice(2)] : [])].join(' ')

  const tools: Record<string, string> = {}
  for (const tool of TOOLS) {
    const version = await toolVersion(tool.command, tool.versionArgs)
    if (version === undefined) throw new Error(`${tool.command} not found: install Debian package ${tool.apt} (apt-get install ${TOOLS.map((t) => t.apt).join(' ')})`)
    tools[tool.apt] = version
  }
  const environment: BenchEnvironment = { cpus: cpus().length, node: process.version, revision: await revision(), tools }

  const outDir = resolve(values.out)
  const workDir = join(outDir, 'work')
  await rm(workDir, { recursive: true, force: true })
  await mkdir(workDir, { recursive: true })
  const log = (line: string): void => { console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`) }
  log(`${rounds} rounds × ${scenarios.length} scenarios × ${paths.length} paths, ${durationSeconds} s each; work files in ${workDir}`)
  if (paths.some((p) => MESHGATE_PATHS.includes(p.id)) && !paths.some((p) => p.id === 'haproxy-pair')) {
    log('no haproxy-pair in --paths: the targets, all ratios to the HAProxy pair of the same run, will be n/a')
  }

  const certs = await makeCertificates(workDir)
  const upstreams = await startUpstreams(workDir)
  let results
  try {
    results = await runSuite({ workDir, repoDir: REPO_DIR, certs, upstream: upstreams.ports }, paths, scenarios, { rounds, durationSeconds, warmupSeconds, settleMs, log })
  } finally {
    await upstreams.stop()
  }
  const summary = summarise(results, scenarios)
  const targets = checkTargets(summary)
  const markdown = await writeReport(outDir, {
    date,
    command,
    options: { rounds, durationSeconds, warmupSeconds },
    environment,
    loadAverage: results.loadAverage,
    summary,
    targets,
    raw: results,
  })
  console.log('\n' + markdown)
  log(`report written to ${join(outDir, 'report.md')} and report.json`)
  const slowSeconds = Number(values['slow-endpoint'])
  if (slowSeconds > 0) {
    console.log('\n' + await runAndWriteSlowEndpoint(outDir, { workDir: join(workDir, 'slow-endpoint'), repoDir: REPO_DIR, certs, durationSeconds: slowSeconds, rounds: Math.min(rounds, 2), log }))
    log(`slow-endpoint comparison written to ${join(outDir, 'slow-endpoint.md')} and slow-endpoint.json`)
  }
  const h3Seconds = Number(values['h3-vs-h2'])
  if (h3Seconds > 0) {
    if (!existsSync(join(REPO_DIR, 'native', 'build', 'Release', 'meshgate_quic.node'))) {
      log('h3-vs-h2 skipped: the QUIC addon is not built (npm run native:build)')
    } else {
      console.log('\n' + await runAndWriteH3VsH2(outDir, { workDir: join(workDir, 'h3-vs-h2'), repoDir: REPO_DIR, certs, durationSeconds: h3Seconds, rounds, warmupSeconds, log }))
      log(`h3-vs-h2 comparison written to ${join(outDir, 'h3-vs-h2.md')} and h3-vs-h2.json`)
    }
  }
  const metricsSeconds = Number(values['metrics-cost'])
  if (metricsSeconds > 0) {
    console.log('\n' + await runAndWriteMetricsCost(outDir, { workDir: join(workDir, 'metrics-cost'), repoDir: REPO_DIR, certs, durationSeconds: metricsSeconds, rounds: Number(values['metrics-cost-rounds']), warmupSeconds, control: true, command, log }))
    log(`metrics-cost comparison written to ${join(outDir, 'metrics-cost.md')} and metrics-cost.json`)
  }
  const gatewaySeconds = Number(values['gateway-hop'])
  if (gatewaySeconds > 0) {
    console.log('\n' + await runAndWriteGatewayHop(outDir, { workDir: join(workDir, 'gateway-hop'), repoDir: REPO_DIR, certs, durationSeconds: gatewaySeconds, rounds, warmupSeconds, log }))
    log(`gateway-hop comparison written to ${join(outDir, 'gateway-hop.md')} and gateway-hop.json`)
  }
  const coldPaths = COLD_START_PATHS.filter((id) => paths.some((p) => p.id === id))
  if (coldSeconds > 0 && coldPaths.length > 0) {
    console.log('\n' + await runAndWriteColdStart(outDir, { workDir: join(workDir, 'cold-start'), repoDir: REPO_DIR, certs, durationSeconds: coldSeconds, rounds: coldRounds, paths: coldPaths, log }))
    log(`cold start written to ${join(outDir, 'cold-start.md')} and cold-start.json`)
  }
  const floorRounds = Math.floor(Number(values['idle-floor']))
  if (floorRounds > 0) {
    console.log('\n' + await runAndWriteIdleFloor(outDir, { repoDir: REPO_DIR, rounds: floorRounds, log }))
    log(`idle floor written to ${join(outDir, 'idle-floor.md')} and idle-floor.json`)
  }
  return 0
}

main().then((code) => { process.exitCode = code }, (err: unknown) => {
  console.error(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`)
  process.exitCode = 1
})
