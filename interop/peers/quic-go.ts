/**
 * Peer: quic-go 0.29 (Debian's golang-github-lucas-clemente-quic-go-dev) with its http3 package,
 * through our own small server and client (interop/peers/quic-go/*.go). They are compiled on
 * first use, offline, in GOPATH mode against the packaged sources (GO111MODULE=off,
 * GOPATH=<cache>:/usr/share/gocode) and cached by a hash of their sources and the Go version.
 */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { haveCommand } from '../process.js'
import type { CaseName, CaseRun, ClientOutcome, PeerDefinition, RunEnvironment } from '../types.js'
import { describeExit, hostPort, urlsFor } from './common.js'

const GOPATH_SYSTEM = '/usr/share/gocode'
const QUIC_GO_SOURCES = join(GOPATH_SYSTEM, 'src/github.com/lucas-clemente/quic-go')
const PACKAGES = ['golang-go', 'golang-github-lucas-clemente-quic-go-dev']
const PROGRAMS = ['server', 'client'] as const
/** Building quic-go from source the first time takes a while on a small machine, ms. */
const BUILD_TIMEOUT_MS = 600_000

interface Built {
  server: string
  client: string
}

let built: Built | undefined
let buildFailure: string | undefined

function goEnv (cacheDir: string): Record<string, string> {
  return {
    GO111MODULE: 'off',
    GOPATH: `${join(cacheDir, 'gopath')}:${GOPATH_SYSTEM}`,
    GOCACHE: join(cacheDir, 'gocache'),
    GOFLAGS: '',
    GOPROXY: 'off',
    CGO_ENABLED: '0',
  }
}

/** Compiles server and client once per source version; the reason when that is impossible. */
function build (env: RunEnvironment): string | undefined {
  if (built !== undefined) return undefined
  if (buildFailure !== undefined) return buildFailure
  const sourceDir = join(env.root, 'interop', 'peers', 'quic-go')
  const sources = ['common.go', 'server.go', 'client.go'].map(f => join(sourceDir, f))
  const goVersion = spawnSync('go', ['version'], { encoding: 'utf8' }).stdout.trim()
  const hash = createHash('sha256').update(goVersion)
  for (const file of sources) hash.update(readFileSync(file))
  const cache = join(env.cacheDir, 'quic-go')
  const binDir = join(cache, `bin-${hash.digest('hex').slice(0, 12)}`)
  mkdirSync(binDir, { recursive: true })
  const result: Built = { server: join(binDir, 'qgo-server'), client: join(binDir, 'qgo-client') }
  for (const program of PROGRAMS) {
    const output = result[program]
    if (existsSync(output)) continue
    const compiled = spawnSync('go', ['build', '-o', output, join(sourceDir, 'common.go'), join(sourceDir, `${program}.go`)], {
      env: { ...process.env, ...goEnv(cache) },
      encoding: 'utf8',
      timeout: BUILD_TIMEOUT_MS,
    })
    if (compiled.status !== 0) {
      const detail = `${compiled.stderr ?? ''}${compiled.error?.message ?? ''}`.trim().split('\n').slice(0, 6).join(' | ')
      buildFailure = `our ${program}.go does not build against the Debian quic-go sources in ${QUIC_GO_SOURCES}: ${detail}`
      return buildFailure
    }
  }
  built = result
  return undefined
}

function tlsArgs (run: CaseRun, side: 'server' | 'client'): string[] {
  const { certs } = run
  return side === 'server'
    ? [`-ca=${certs.ca}`, `-cert=${certs.serverCert}`, `-key=${certs.serverKey}`]
    : [`-ca=${certs.ca}`, `-cert=${certs.clientCert}`, `-key=${certs.clientKey}`, `-servername=${certs.serverName}`]
}

async function runClient (run: CaseRun): Promise<ClientOutcome> {
  const args = [...tlsArgs(run, 'client'), `-out=${run.download}`]
  if (run.testCase === 'resumption') args.push('-resume')
  const proc = run.spawn('client', { command: (built as Built).client, args: [...args, ...urlsFor(run)] })
  const code = await proc.exited
  return { ok: code === 0, detail: describeExit('quic-go client', code) }
}

const NO_CIPHER_CHOICE = 'quic-go: TLS 1.3 cipher suites are not configurable (crypto/tls)'
const AS_SERVER: Partial<Record<CaseName, string>> = {
  chacha20: NO_CIPHER_CHOICE,
  keyupdate: 'the key update of this case is initiated by the client',
  zerortt: 'interop server: 0-RTT not enabled in our quic-go server',
  connectionmigration: 'quic-go 0.29: no preferred address for the client to migrate to',
}
const AS_CLIENT: Partial<Record<CaseName, string>> = {
  chacha20: NO_CIPHER_CHOICE,
  keyupdate: 'quic-go 0.29: no API to initiate a key update',
  zerortt: 'interop client: 0-RTT not implemented in our quic-go client',
  connectionmigration: 'quic-go 0.29: the client cannot move to a new address',
}

export const quicGoPeer: PeerDefinition = {
  name: 'quic-go',
  description: 'quic-go 0.29 http3 (Debian sources), our interop/peers/quic-go programs',
  protocol: 'h3',
  packages: PACKAGES,
  available: async (env) => {
    const missing: string[] = []
    if (!haveCommand('go')) missing.push('golang-go')
    if (!existsSync(join(QUIC_GO_SOURCES, 'http3'))) missing.push('golang-github-lucas-clemente-quic-go-dev')
    if (missing.length > 0) return `not installed: apt-get install -y ${missing.join(' ')}`
    return build(env)
  },
  supports: (testCase, role) => (role === 'server' ? AS_SERVER : AS_CLIENT)[testCase],
  server: (run) => ({
    command: (built as Built).server,
    args: [...tlsArgs(run, 'server'), `-www=${run.www}`, `-addr=${hostPort(run.host, run.port)}`, ...(run.testCase === 'retry' ? ['-retry'] : [])],
    // quic-go logs "-> Sending Retry" at debug level: the evidence of the retry case.
    env: run.testCase === 'retry' ? { QUIC_GO_LOG_LEVEL: 'DEBUG' } : {} as Record<string, string>,
  }),
  client: runClient,
  evidence: (run, logs) => {
    if (run.testCase === 'retry') return /Sending Retry/.test(logs.server) ? undefined : 'the quic-go server logged no Retry'
    if (run.testCase === 'resumption') return /resumed=true/.test(logs.client) ? undefined : 'the second quic-go connection did not resume'
    return undefined
  },
}
