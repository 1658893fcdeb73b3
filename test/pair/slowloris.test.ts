// Slowloris against the outbound HTTP/1 listener: N connections each send half a request head and
// stay idle; a legitimate request is still answered 200, and the proxy's RSS grows by no more than
// the bound docs/native-http.md §8 states (8 KiB per idle half-head, plus 16 MiB of slack for
// heap growth and GC timing). The proxy (outbound and inbound roles in one `meshgate run`) is a
// child process, so the N client sockets and the N accepted ones live in different processes
// (each needs N file descriptors).
//
// N is the issue's 10,000 (about 12 s on a 2-core box), or fewer when this process' file
// descriptor limit (`ulimit -n`, which the child inherits) leaves less room; the test logs its N.
// MESHGATE_SLOWLORIS_CONNECTIONS sets it (e.g. 1000 for a quick run).
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { startDemoUpstream, type DemoUpstream } from '../../src/demo/upstream.js'
import { get } from '../helpers/clients.js'
import { freePort, startMeshgate, tcpListening, type MeshgateProcess } from '../helpers/meshgate-process.js'
import { makePki } from '../helpers/pki.js'

/** `ulimit -n` of this process (the child's too); Infinity when unlimited. */
function fdLimit (): number {
  const out = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim()
  return out === 'unlimited' ? Infinity : Number(out)
}
const N = Number(process.env.MESHGATE_SLOWLORIS_CONNECTIONS ?? Math.min(10_000, fdLimit() - 256))
/** Connections opened at once (below node's listen backlog of 511). */
const BATCH = 250
const PER_CONNECTION_BYTES = 8 * 1024
const SLACK_BYTES = 16 * 1024 * 1024
const HALF_HEAD = 'GET / HTTP/1.1\r\nHost: web.test\r\nx-slow: '

async function rssOf (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kb = /^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1]
  assert.ok(kb !== undefined, 'VmRSS in /proc/<pid>/status')
  return Number(kb) * 1024
}

/** Opens one connection and writes the half head; resolves once written (10 s bound). */
async function halfHead (port: number, open: net.Socket[]): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    open.push(socket)
    const timer = setTimeout(() => reject(new Error('connect timed out')), 10_000)
    socket.on('error', (err) => { clearTimeout(timer); reject(err) })
    socket.on('connect', () => socket.write(HALF_HEAD, () => { clearTimeout(timer); resolve() }))
  })
}

describe(`slowloris: ${N} idle half-heads on the outbound HTTP/1 listener`, { timeout: 120_000 }, () => {
  let dir: string
  let upstream: DemoUpstream
  let proxy: MeshgateProcess | undefined
  let appPort = 0
  const open: net.Socket[] = []

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshgate-slowloris-'))
    upstream = await startDemoUpstream('127.0.0.1', 0, 0)
    const pki = await makePki()
    const tls = await pki.workload('proxy')
    await writeFile(join(dir, 'proxy.crt'), tls.cert)
    await writeFile(join(dir, 'proxy.key'), tls.key, { mode: 0o600 })
    await writeFile(join(dir, 'ca.crt'), tls.ca)
    const files = `{ ca: ${join(dir, 'ca.crt')}, cert: ${join(dir, 'proxy.crt')}, key: ${join(dir, 'proxy.key')} }`
    const peerPort = await freePort()
    appPort = await freePort()
    const web = `127.0.0.1:${upstream.httpPort}`
    const trustDomain = `spiffe://${pki.id('x').split('/')[2] ?? ''}`
    // headerReadMs well past the test's length: the half-heads stay open while RSS is read.
    await writeFile(join(dir, 'proxy.yaml'), `
log: { level: warn }
admin: false
timeouts: { headerReadMs: 2m }
services:
  web:
    aliases: [web.test]
    endpoints: [{ peer: "127.0.0.1:${peerPort}", identity: "${pki.id('proxy')}", target: "${web}" }]
outbound:
  tls: ${files}
  listeners: [{ name: app, host: 127.0.0.1, port: ${appPort}, protocol: auto }]
inbound:
  tls: ${files}
  listeners: [{ host: 127.0.0.1, port: ${peerPort}, h3: false }]
  targets: [{ address: "${web}", allow: ["${trustDomain}"] }]
`)
    proxy = startMeshgate(join(dir, 'proxy.yaml'))
    await tcpListening(appPort, proxy)
  })

  after(async () => {
    for (const socket of open) socket.destroy()
    await proxy?.stop()
    await upstream?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('a legitimate request is answered 200 and RSS grows by at most 8 KiB per connection + 16 MiB', async () => {
    const pid = proxy?.child.pid ?? 0
    // Warm: one exchange (peer session, JIT) before the baseline.
    assert.equal((await get(appPort)).status, 200)
    const before = await rssOf(pid)
    for (let i = 0; i < N; i += BATCH) {
      await Promise.all(Array.from({ length: Math.min(BATCH, N - i) }, async () => { await halfHead(appPort, open) }))
    }
    const reply = await get(appPort, '/', 'web.test', 10_000)
    assert.equal(reply.status, 200, 'the legitimate request during the flood')
    // The proxy has read every half head (detection handed each to node:http) by the time a later request is answered.
    const grown = (await rssOf(pid)) - before
    const bound = N * PER_CONNECTION_BYTES + SLACK_BYTES
    console.log(`# slowloris: ${N} half-heads, RSS +${(grown / 1048576).toFixed(1)} MiB (bound ${(bound / 1048576).toFixed(1)} MiB), legitimate request ${reply.ms} ms`)
    assert.ok(grown <= bound, `RSS grew by ${grown} bytes, bound ${bound}`)
    assert.ok(open.every((s) => !s.destroyed), 'the idle half-heads are still open (headerReadMs not reached)')
  })
})
