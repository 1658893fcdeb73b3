/**
 * The `meshgate` command: run a proxy from a config (the embedded default when none is given),
 * check a config, or check the machine. cli.ts is its entry point.
 */
import { endStartup } from './startup-v8.js'
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { MeshError } from '../core/errors.js'
import { createLogger, type Logger } from './log.js'
import { loadConfig } from './config/load.js'
import { formatHostPort } from './config/address.js'
import type { MeshConfig, OutboundListenerConfig } from './config/types.js'
import { formatDuration } from './config/units.js'
import { PACKAGE_ROOT as ROOT, VERSION } from './package-info.js'

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
type LogLevel = typeof LOG_LEVELS[number]

/** Exit statuses: 0 ok, 1 failure (bad config, start-up, drain), 2 usage error. */
const EXIT_FAILURE = 1
const EXIT_USAGE = 2

const DEFAULT_CONFIG = join(ROOT, 'examples', 'default.yaml')

/** How long at most start-up's V8 settings (startup-v8.ts) stay on after the proxy listens, ms. */
const STARTUP_SETTLE_MAX_MS = 5000

const HELP = `meshgate ${VERSION} — a service-mesh data plane: sidecar pairs over HTTP/2 + mTLS

Usage:
  meshgate                   run the embedded default config: a client and a server side with a
                             demo app in one process (${DEFAULT_CONFIG})
  meshgate run [CONFIG]      run a proxy from CONFIG (default: the embedded default)
  meshgate check [CONFIG]    validate CONFIG: print "ok: <file>" and a summary, or every problem
                             (file, YAML path, found, expected) and exit 1
  meshgate top [--admin URL] [--interval MS] [--count N]
                             live per-authority table (requests/s, success rate, p50, p99) of a
                             running proxy, read from its admin server (default
                             http://127.0.0.1:4191, every 1000 ms, until Ctrl-C or N frames)
  meshgate doctor            check this machine: Node.js version, the QUIC/HTTP/3 libraries
                             (libngtcp2, libngtcp2_crypto_gnutls, libnghttp3) the h3 transport needs,
                             the native h2 engine, and the data plane dataPlane: auto would run
  meshgate interop [OPTS]    run the interop matrix against other QUIC/HTTP/3 and HTTP/2 stacks
                             (ngtcp2, quic-go, Chromium, curl, nghttp); "meshgate interop --help"
  meshgate redirect install|remove|show [OPTS]
                             transparent redirect: iptables nat rules in this network namespace
                             that send the app's TCP through the sidecar (an init container's
                             job); "meshgate redirect --help"
  meshgate inject FILE       print FILE's Kubernetes Deployments with the meshgate sidecar, its
                             init container and volumes added ("-" reads stdin)
  meshgate k8s-secrets SA... print the Secrets of a mesh's identity (CA certificate, one
                             certificate per service account) from a dev CA, for kubectl apply;
                             "meshgate k8s-secrets --help"
  meshgate help              print this text

Options:
  -h, --help                 print this text and exit
  -v, --version              print the version and exit
  -l, --log-level LEVEL      run: override log.level of the config
                             (${LOG_LEVELS.join(' | ')})

Running:
  Logs are JSON lines on stdout; messages for people go to stderr.
  A config with a devPki section gets its CA and workload certificates on first start
  (devPki.certLifetimeMs: short-lived ones, renewed while running).
  Changed tls files (certificate, key, CA bundle) are checked and put into use for new sessions
  without a restart; refused ones are logged (E_IDENTITY_REJECTED) and the old identity stays.
  SIGTERM or SIGINT drains in-flight work for up to the config's drainMs, then exits 0;
  a second signal exits at once with status 1.
  The config file is watched, and reread on SIGHUP: routes, splits, retries, route timeouts,
  retry budgets, inbound rate limits and the log level change in place; a file with problems is
  refused (every problem logged) and the running config stays; other changes need a restart.

Exit status:
  0 success; 1 invalid config, start-up failure or failed drain; 2 usage error.
`

class UsageError extends Error {}

interface Options {
  command: 'run' | 'check' | 'doctor' | 'help' | 'version' | 'interop' | 'top' | 'redirect' | 'inject' | 'k8s-secrets'
  config: string
  /** interop: its own arguments, parsed by the runner. */
  rest?: string[]
  logLevel?: LogLevel
}

function parseCommandLine (argv: string[]): Options {
  // The interop runner has its own options: everything after the word goes to it untouched.
  if (argv[0] === 'interop') return { command: 'interop', config: DEFAULT_CONFIG, rest: argv.slice(1) }
  if (argv[0] === 'top') return { command: 'top', config: DEFAULT_CONFIG, rest: argv.slice(1) }
  if (argv[0] === 'redirect') return { command: 'redirect', config: DEFAULT_CONFIG, rest: argv.slice(1) }
  if (argv[0] === 'inject') return { command: 'inject', config: DEFAULT_CONFIG, rest: argv.slice(1) }
  if (argv[0] === 'k8s-secrets') return { command: 'k8s-secrets', config: DEFAULT_CONFIG, rest: argv.slice(1) }
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
        'log-level': { type: 'string', short: 'l' },
      },
    })
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err))
  }
  const { values, positionals } = parsed
  if (values.help === true) return { command: 'help', config: DEFAULT_CONFIG }
  if (values.version === true) return { command: 'version', config: DEFAULT_CONFIG }
  const logLevel = values['log-level']
  if (logLevel !== undefined && !(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, not "${logLevel}"`)
  }
  const [command = 'run', ...rest] = positionals
  if (command !== 'run' && command !== 'check' && command !== 'doctor' && command !== 'help') {
    throw new UsageError(`unknown command "${command}"`)
  }
  const maxArgs = command === 'run' || command === 'check' ? 1 : 0
  if (rest.length > maxArgs) throw new UsageError(`too many arguments for ${command}: ${rest.join(' ')}`)
  return { command, config: rest[0] ?? DEFAULT_CONFIG, logLevel: logLevel as LogLevel | undefined }
}

/** `meshgate top`: the live per-authority table from a running proxy's admin server. */
async function top (argv: string[]): Promise<number> {
  try {
    return await topCommand(argv)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    process.stderr.write(`meshgate top: ${err.message}\nRun "meshgate --help" for the commands and options.\n`)
    return EXIT_USAGE
  }
}

async function topCommand (argv: string[]): Promise<number> {
  let values
  try {
    values = parseArgs({
      args: argv,
      strict: true,
      options: {
        admin: { type: 'string', short: 'a', default: 'http://127.0.0.1:4191' },
        interval: { type: 'string', short: 'i', default: '1000' },
        count: { type: 'string', short: 'n' },
      },
    }).values
  } catch (err) {
    throw new UsageError(err instanceof Error ? err.message : String(err))
  }
  const intervalMs = Number(values.interval)
  if (!Number.isInteger(intervalMs) || intervalMs < 100) throw new UsageError(`--interval must be a whole number of ms >= 100, not "${values.interval}"`)
  const iterations = values.count === undefined ? undefined : Number(values.count)
  if (iterations !== undefined && (!Number.isInteger(iterations) || iterations < 1)) throw new UsageError(`--count must be a whole number >= 1, not "${values.count}"`)
  const { runTop } = await import('./top.js')
  const stop = new AbortController()
  process.once('SIGINT', () => stop.abort())
  try {
    await runTop({ adminUrl: values.admin, intervalMs, iterations, signal: stop.signal })
    return 0
  } catch (err) {
    const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : ''
    process.stderr.write(`meshgate top: cannot read ${values.admin}/metrics: ${err instanceof Error ? err.message : String(err)}${cause}\n`)
    return EXIT_FAILURE
  }
}

/** The message of a config failure (ConfigError lists every problem), or undefined for other errors. */
function configFailure (err: unknown): string | undefined {
  return err instanceof MeshError && err.code === 'E_CONFIG' ? err.message : undefined
}

async function check (file: string): Promise<number> {
  try {
    const config = await loadConfig(file)
    const { describeConfig } = await import('./config/summary.js')
    process.stdout.write(`ok: ${config.file}\n${describeConfig(config).map((l) => `  ${l}\n`).join('')}`)
    return 0
  } catch (err) {
    const message = configFailure(err)
    if (message === undefined) throw err
    process.stderr.write(`${message}\n`)
    return EXIT_FAILURE
  }
}

const QUIC_LIBRARIES = [
  { pkgConfig: 'libngtcp2', so: 'libngtcp2.so', apt: 'libngtcp2-dev' },
  { pkgConfig: 'libngtcp2_crypto_gnutls', so: 'libngtcp2_crypto_gnutls.so', apt: 'libngtcp2-crypto-gnutls-dev' },
  { pkgConfig: 'libnghttp3', so: 'libnghttp3.so', apt: 'libnghttp3-dev' },
]
const LIBRARY_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib']

/**
 * Node version, the development packages of the QUIC/HTTP/3 libraries (optional: h3 only), then
 * the native h2 engine's availability and the data plane `dataPlane: auto` would pick here.
 */
async function doctor (): Promise<number> {
  const [major, minor] = process.versions.node.split('.').map(Number)
  const nodeOk = major > 20 || (major === 20 && minor >= 18)
  process.stdout.write(`node: v${process.versions.node} ${nodeOk ? 'ok' : 'too old: meshgate needs Node.js >= 20.18'}\n`)
  const { spawnSync } = await import('node:child_process')
  const pkgConfig = spawnSync('pkg-config', ['--version'], { encoding: 'utf8' })
  const havePkgConfig = pkgConfig.error === undefined && pkgConfig.status === 0
  if (!havePkgConfig) process.stdout.write('pkg-config: not found (looking for the .so files instead; building the h3 addon needs it: apt-get install pkg-config)\n')
  const missing: string[] = []
  for (const lib of QUIC_LIBRARIES) {
    const present = havePkgConfig
      ? spawnSync('pkg-config', ['--exists', lib.pkgConfig]).status === 0
      : LIBRARY_DIRS.some((dir) => existsSync(join(dir, lib.so)))
    process.stdout.write(`${lib.pkgConfig}: ${present ? 'ok' : `missing (package ${lib.apt})`}\n`)
    if (!present) missing.push(lib.apt)
  }
  if (missing.length > 0) {
    process.stdout.write(`the h3 (QUIC) transport needs them; h2 works without. Install with:\n  sudo apt-get install -y ${missing.join(' ')}\n`)
  } else {
    process.stdout.write('QUIC/HTTP/3 libraries: all present\n')
  }
  const h3 = await import('../transports/h3/index.js').then((m) => m.h3Availability())
  process.stdout.write(h3.available
    ? `h3 addon: built and loads (ngtcp2 ${h3.versions.ngtcp2}, nghttp3 ${h3.versions.nghttp3}, GnuTLS ${h3.versions.gnutls})\n`
    : `h3 addon: not available (${h3.reason.split('\n')[0] ?? ''})${missing.length === 0 ? '; build it with: npm run native:build' : ''}\n`)
  // The native h2 engine, and what `dataPlane: auto` (the default) would run on this machine.
  const [native, { selectDataPlane }] = await Promise.all([
    import('../transports/h2-native/index.js').then((m) => m.h2NativeAvailability()),
    import('./data-plane.js'),
  ])
  process.stdout.write(native.available
    ? `native h2 engine: loads (nghttp2 ${native.versions.nghttp2}, GnuTLS ${native.versions.gnutls}, llhttp ${native.versions.llhttp})\n`
    : `native h2 engine: not available (${native.reason.split('\n')[0] ?? ''}); to get it: ${native.installHint}\n`)
  const auto = selectDataPlane({ file: '(doctor)', dataPlane: 'auto' }, native)
  process.stdout.write(`data plane with dataPlane: auto (the default): ${auto.effective} (${auto.effective === 'native' ? 'the native h2 engine' : 'node:http2'})\n`)
  return nodeOk ? 0 : EXIT_FAILURE
}

/** A host to show in a URL people can paste: wildcards become loopback. */
function reachable (listener: { host: string, port: number }): string {
  const host = listener.host === '0.0.0.0' ? '127.0.0.1' : listener.host === '::' ? '::1' : listener.host
  return formatHostPort(host, listener.port)
}

/** The "try:" lines printed after start when there is something local to try. */
function tryBlock (config: MeshConfig, adminAddress: { host: string, port: number } | undefined): string[] {
  const listeners = config.outbound?.listeners ?? []
  const pick = (test: (l: OutboundListenerConfig) => boolean): OutboundListenerConfig | undefined => listeners.find(test)
  const http = pick((l) => l.protocol === 'auto') ?? pick((l) => l.protocol === 'http1')
  const h2c = pick((l) => l.protocol === 'auto') ?? pick((l) => l.protocol === 'http2')
  const tcp = pick((l) => l.protocol === 'tcp') ?? pick((l) => l.protocol === 'auto' && l.tcpService !== undefined)
  const demoTarget = config.demo === undefined ? undefined : formatHostPort(config.demo.host, config.demo.httpPort)
  const services = Object.entries(config.services)
  const service = services.find(([, s]) => s.endpoints.some((e) => e.target === demoTarget)) ??
    services.find(([, s]) => s.aliases.length > 0) ?? services[0]
  const authority = service === undefined ? undefined : service[1].aliases.find((a) => !a.includes(':')) ?? service[0]
  const lines: string[] = []
  if (http !== undefined && authority !== undefined) {
    lines.push(`curl -H 'Host: ${authority}' http://${reachable(http)}/`)
  }
  if (h2c !== undefined && authority !== undefined) {
    lines.push(`nghttp -v -H ':authority: ${authority}' http://${reachable(h2c)}/`)
    lines.push(`curl --http2-prior-knowledge -H 'Host: ${authority}' http://${reachable(h2c)}/`)
  }
  if (tcp !== undefined) {
    const at = tcp.host === '0.0.0.0' || tcp.host === '::' ? '127.0.0.1' : tcp.host
    lines.push(`echo hi | nc ${at} ${tcp.port}`)
    lines.push(`node -e "const s=require('net').connect(${tcp.port},'${at}',()=>s.end('hi\\n'));s.pipe(process.stdout)"`)
  }
  const admin = adminAddress ?? config.admin
  if (admin !== undefined) {
    lines.push(`curl http://${reachable(admin)}/metrics`)
    lines.push(`open http://${reachable(admin)}/ in a browser: the live dashboard`)
    lines.push(`meshgate top --admin http://${reachable(admin)}`)
  }
  return lines
}

/** One line for a start-up failure: the codes along the cause chain (MeshError code, errno) and the message. */
function startFailure (err: unknown): string {
  const codes: string[] = []
  for (let e: unknown = err; typeof e === 'object' && e !== null && codes.length < 5; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && !codes.includes(code)) codes.push(code)
  }
  const message = err instanceof Error ? err.message.split('\n')[0] : String(err)
  return `meshgate: failed to start${codes.length > 0 ? ` [${codes.join(', ')}]` : ''}: ${message}\n`
}

async function run (file: string, logLevel: LogLevel | undefined): Promise<number> {
  let config: MeshConfig
  try {
    config = await loadConfig(file)
  } catch (err) {
    const message = configFailure(err)
    if (message === undefined) throw err
    process.stderr.write(`${message}\n`)
    return EXIT_FAILURE
  }
  const logger: Logger = createLogger(logLevel ?? config.log.level)
  let proxy
  try {
    if (config.devPki !== undefined) {
      // Loaded only when asked for: the X.509 library costs ~20 MB of RSS a production proxy does not need.
      const { ensureDevPki, startDevPkiRenewal } = await import('./identity/dev-pki.js')
      await ensureDevPki(config.devPki, logger.child({ component: 'dev-pki' }))
      startDevPkiRenewal(config.devPki, logger.child({ component: 'dev-pki' }))
    }
    // Loaded here, not at the top, so help/check/doctor work without the proxy's module graph.
    const { startProxy } = await import('./proxy.js')
    // POST /shutdown takes the same path as SIGTERM: drain, then exit.
    proxy = await startProxy(config, logger, { onShutdown: () => { process.kill(process.pid, 'SIGTERM') } })
    // Start-up ends with the outbound warm-up, not before it: its dials load the session layer's
    // modules and run the first handshakes, a burst that would otherwise be compiled by TurboFan
    // and keep its ~3.6 MB of code paged in while idle. Bounded, so a warm-up that waits on
    // discovery does not keep the optimizing compilers off under traffic.
    const settled = setTimeout(endStartup, STARTUP_SETTLE_MAX_MS).unref()
    proxy.warmedUp.finally(() => { clearTimeout(settled); endStartup() }).catch(() => {})
  } catch (err) {
    process.stderr.write(startFailure(err))
    process.exit(EXIT_FAILURE)
  }
  const running = proxy
  if (config.memory.releaseWhenIdle) {
    const { engineRelief, startMemoryRelief } = await import('./memory-relief.js')
    const relief = await engineRelief()
    const log = logger.child({ component: 'memory' })
    if ('relieve' in relief) startMemoryRelief({ relieve: relief.relieve, logger: log, registry: running.metrics.registry })
    else log.debug({ reason: relief.reason }, 'memory.releaseWhenIdle is off: the engine addon did not load')
  }

  let stopping = false
  const stop = (signal: NodeJS.Signals): void => {
    if (stopping) {
      process.stderr.write(`meshgate: ${signal} again, exiting now\n`)
      process.exit(EXIT_FAILURE)
    }
    stopping = true
    logger.info({ signal, deadlineMs: config.drainMs }, 'signal received, draining')
    // If drain itself hangs, do not hang with it.
    setTimeout(() => {
      process.stderr.write('meshgate: drain did not finish in time, exiting\n')
      process.exit(EXIT_FAILURE)
    }, config.drainMs + 5_000).unref()
    running.drain(config.drainMs).then(() => process.exit(0), (err: unknown) => {
      process.stderr.write(`meshgate: drain failed: ${err instanceof Error ? err.message : String(err)}\n`)
      process.exit(EXIT_FAILURE)
    })
  }
  process.on('SIGTERM', stop)
  process.on('SIGINT', stop)
  // Routes, splits and policies change without a restart: on a file change or SIGHUP (src/reload.ts).
  const { watchConfig } = await import('./reload.js')
  watchConfig(config.file, logger, (next) => { running.reload(next) })

  if (config.outbound !== undefined && (config.demo !== undefined || config.file === DEFAULT_CONFIG)) {
    const lines = tryBlock(config, running.adminAddress)
    process.stderr.write(`\nmeshgate ${VERSION} is running ${config.file}\ntry:\n${lines.map((l) => `  ${l}\n`).join('')}stop with Ctrl-C (drains for up to ${formatDuration(config.drainMs)})\n\n`)
  }
  return 0
}

async function main (argv: string[]): Promise<number> {
  let options: Options
  try {
    options = parseCommandLine(argv)
  } catch (err) {
    if (!(err instanceof UsageError)) throw err
    process.stderr.write(`meshgate: ${err.message}\nRun "meshgate --help" for the commands and options.\n`)
    return EXIT_USAGE
  }
  // Only `run` has a start-up burst worth the settings of startup-v8.ts; the rest run with V8's defaults.
  if (options.command !== 'run') endStartup()
  switch (options.command) {
    case 'help':
      process.stdout.write(HELP)
      return 0
    case 'version':
      process.stdout.write(`meshgate ${VERSION}\n`)
      return 0
    case 'doctor':
      return await doctor()
    case 'interop': {
      // Loaded only for this command: the runner drives native/ and transports/ from outside src/.
      const { runInterop } = await import('../interop/run.js')
      return await runInterop(options.rest ?? [])
    }
    case 'top':
      return await top(options.rest ?? [])
    case 'redirect':
      return (await import('./redirect/command.js')).runRedirect(options.rest ?? [])
    case 'inject':
      return await (await import('./inject/command.js')).runInject(options.rest ?? [])
    case 'k8s-secrets':
      return await (await import('./deploy/command.js')).runK8sSecrets(options.rest ?? [])
    case 'check':
      return await check(resolve(options.config))
    case 'run':
      return await run(resolve(options.config), options.logLevel)
  }
}

main(process.argv.slice(2)).then((status) => {
  if (status !== 0) process.exitCode = status
}, (err: unknown) => {
  process.stderr.write(`meshgate: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exitCode = EXIT_FAILURE
})
