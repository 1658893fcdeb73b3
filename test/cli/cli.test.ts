// The meshgate command, run as a child process from the build: exit statuses and what it prints.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, connect, type AddressInfo, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { h2NativeAvailability } from '../../transports/h2-native/index.js'
import { freePort } from '../helpers/meshgate-process.js'

// dist/test/cli/cli.test.js → dist/src/cli.js, and the repository root
const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url))
const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..')
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version

interface Result { code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }

async function meshgate (args: string[], options: { cwd?: string, whenRunning?: (pid: number) => Promise<void> } = {}): Promise<Result> {
  return await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: options.cwd ?? tmpdir(), stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c })
    child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c })
    child.once('error', reject)
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr })
    })
    if (options.whenRunning !== undefined && child.pid !== undefined) options.whenRunning(child.pid).catch(reject)
  })
}

let dir: string
before(async () => { dir = await mkdtemp(join(tmpdir(), 'meshgate-cli-')) })
after(async () => { await rm(dir, { recursive: true, force: true }) })

test('--help and -h document every command and option', async () => {
  for (const flag of ['--help', '-h', 'help']) {
    const r = await meshgate([flag])
    assert.equal(r.code, 0, flag)
    for (const word of ['meshgate run [CONFIG]', 'meshgate check [CONFIG]', 'meshgate doctor', '--help', '--version', '--log-level', 'SIGTERM', 'Exit status']) {
      assert.ok(r.stdout.includes(word), `${flag}: ${word}`)
    }
    assert.ok(r.stdout.includes(join(ROOT, 'examples', 'default.yaml')))
  }
})

test('--version prints the package version', async () => {
  const r = await meshgate(['--version'])
  assert.equal(r.code, 0)
  assert.equal(r.stdout, `meshgate ${VERSION}\n`)
})

test('check: a valid config prints ok and a summary, exit 0', async () => {
  const file = join(ROOT, 'examples', 'outbound-only.yaml')
  const r = await meshgate(['check', file])
  assert.equal(r.code, 0, r.stderr)
  assert.ok(r.stdout.startsWith(`ok: ${file}\n`))
  assert.match(r.stdout, /services: demo \(1 endpoint/)
  assert.match(r.stdout, /outbound: app 127\.0\.0\.1:4140 auto/)
})

test('check with no config checks the embedded default, found from the package and not the cwd', async () => {
  const r = await meshgate(['check'], { cwd: dir })
  assert.equal(r.code, 0, r.stderr)
  assert.ok(r.stdout.startsWith(`ok: ${join(ROOT, 'examples', 'default.yaml')}\n`))
})

test('check: an invalid config prints every problem, exit 1', async () => {
  const file = join(dir, 'bad.yaml')
  await writeFile(file, 'drainMs: forever\nadmin: { port: 99999 }\nbogus: 1\n')
  const r = await meshgate(['check', file])
  assert.equal(r.code, 1)
  assert.equal(r.stdout, '')
  assert.match(r.stderr, /invalid config \(3 problems\)/)
  assert.ok(r.stderr.includes(`${file}: drainMs: expected a duration`))
  assert.ok(r.stderr.includes(`${file}: admin.port: expected a port 0–65535, found 99999 (line 2)`))
  assert.ok(r.stderr.includes(`${file}: bogus: expected no such key`))
})

test('check: a missing file, exit 1', async () => {
  const r = await meshgate(['check', join(dir, 'absent.yaml')])
  assert.equal(r.code, 1)
  assert.match(r.stderr, /cannot read config file .*absent\.yaml: ENOENT/)
})

test('usage errors exit 2', async () => {
  for (const args of [['frobnicate'], ['--bogus'], ['check', 'a.yaml', 'b.yaml'], ['run', '--log-level', 'loud']]) {
    const r = await meshgate(args)
    assert.equal(r.code, 2, args.join(' '))
    assert.match(r.stderr, /^meshgate: .*\nRun "meshgate --help"/, args.join(' '))
  }
})

test('doctor reports Node and the QUIC libraries', async () => {
  const r = await meshgate(['doctor'])
  assert.equal(r.code, 0)
  assert.match(r.stdout, new RegExp(`node: v${process.versions.node} ok`))
  for (const lib of ['libngtcp2', 'libngtcp2_crypto_gnutls', 'libnghttp3']) assert.match(r.stdout, new RegExp(`^${lib}: (ok|missing \\(package lib[a-z0-9-]+-dev\\))$`, 'm'))
  if (r.stdout.includes('missing')) assert.match(r.stdout, /sudo apt-get install -y lib/)
})

test('doctor reports the native h2 engine and the data plane dataPlane: auto picks here', async () => {
  const r = await meshgate(['doctor'])
  assert.equal(r.code, 0)
  const native = h2NativeAvailability()
  if (native.available) {
    assert.ok(r.stdout.includes(`native h2 engine: loads (nghttp2 ${native.versions.nghttp2}, GnuTLS ${native.versions.gnutls}, llhttp ${native.versions.llhttp})\n`), r.stdout)
  } else {
    assert.ok(r.stdout.includes(`native h2 engine: not available (${native.reason.split('\n')[0]}); to get it: ${native.installHint}\n`), r.stdout)
  }
  assert.match(r.stdout, new RegExp(`^data plane with dataPlane: auto \\(the default\\): ${native.available ? 'native' : 'js'} `, 'm'))
})

test('run: an invalid config prints the problems, exit 1', async () => {
  const file = join(dir, 'run-bad.yaml')
  await writeFile(file, 'outbound: {}\n')
  const r = await meshgate(['run', file])
  assert.equal(r.code, 1)
  assert.match(r.stderr, /outbound\.tls: expected/)
  assert.match(r.stderr, /outbound\.listeners: expected/)
})

function inboundConfig (pki: string, port: number): string {
  return `devPki: { dir: ${pki}, workloads: [server] }
inbound:
  tls: { ca: ${pki}/ca.crt, cert: ${pki}/server.crt, key: ${pki}/server.key }
  listeners: [{ host: 127.0.0.1, port: ${port} }]
  targets: [{ address: "127.0.0.1:9", allow: ["*"] }]
admin: false
log: { level: warn }
`
}

test('run: a port already in use is one line with the error code, exit 1', async () => {
  const busy: Server = createServer()
  await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve))
  const { port } = busy.address() as AddressInfo
  try {
    const file = join(dir, 'busy.yaml')
    await writeFile(file, inboundConfig(join(dir, 'pki-busy'), port))
    const r = await meshgate(['run', file])
    assert.equal(r.code, 1)
    assert.match(r.stderr, /^meshgate: failed to start \[[A-Z_, ]*EADDRINUSE[A-Z_, ]*\]: .*\n$/)
  } finally {
    await new Promise((resolve) => busy.close(resolve))
  }
})

async function waitForListener (port: number, deadline: number): Promise<void> {
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true) })
      socket.once('error', () => resolve(false))
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`nothing listening on ${port}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

test('run: starts, creates the dev PKI, and drains on SIGTERM with exit 0', async () => {
  const port = await freePort()
  const file = join(dir, 'inbound.yaml')
  await writeFile(file, inboundConfig(join(dir, 'pki-run'), port))
  const r = await meshgate(['run', file], {
    whenRunning: async (pid) => {
      await waitForListener(port, Date.now() + 10_000)
      await new Promise((resolve) => setTimeout(resolve, 200))
      process.kill(pid, 'SIGTERM')
    },
  })
  assert.equal(r.signal, null, r.stderr)
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stderr, '', 'no try: block without outbound')
  assert.ok(readFileSync(join(dir, 'pki-run', 'server.crt'), 'utf8').includes('BEGIN CERTIFICATE'))
})
