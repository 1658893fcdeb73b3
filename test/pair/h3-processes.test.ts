// Two `meshgate run` processes (outbound-only, inbound-only) with `transport: h3`: HTTP/1, h2c and TCP between them over QUIC.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import http from 'node:http'
import http2 from 'node:http2'
import net, { type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startDemoUpstream, type DemoUpstream } from '../../src/demo/upstream.js'
import { makePki } from '../helpers/pki.js'
import { get } from '../helpers/clients.js'
import { h3Skip } from '../helpers/transports.js'

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url))
const SKIP = h3Skip()

async function freePort (): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** Resolves once something accepts TCP on `port` (the process is up), polling every 50 ms. */
async function listening (port: number, child: ChildProcess): Promise<void> {
  while (child.exitCode === null) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true) })
      socket.on('error', () => resolve(false))
    })
    if (up) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`meshgate exited with ${String(child.exitCode)} before listening on ${port}`)
}

describe('two meshgate processes over h3', { skip: SKIP, timeout: 60_000 }, () => {
  let dir: string
  let upstream: DemoUpstream
  const children: ChildProcess[] = []
  const ports = { peer: 0, app: 0, tcp: 0, admin: 0 }
  let identity = ''

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'meshgate-h3-processes-'))
    upstream = await startDemoUpstream('127.0.0.1', 0, 0)
    const pki = await makePki()
    identity = pki.id('client')
    const files: Record<string, string> = {}
    for (const name of ['server', 'client']) {
      const tls = await pki.workload(name)
      await writeFile(join(dir, `${name}.crt`), tls.cert)
      await writeFile(join(dir, `${name}.key`), tls.key, { mode: 0o600 })
      await writeFile(join(dir, 'ca.crt'), tls.ca)
      files[name] = `{ ca: ${join(dir, 'ca.crt')}, cert: ${join(dir, `${name}.crt`)}, key: ${join(dir, `${name}.key`)} }`
    }
    for (const key of Object.keys(ports) as Array<keyof typeof ports>) ports[key] = await freePort()
    const trustDomain = `spiffe://${pki.id('x').split('/')[2] ?? ''}`
    const web = `127.0.0.1:${upstream.httpPort}`
    const echo = `127.0.0.1:${upstream.tcpPort}`
    await writeFile(join(dir, 'inbound.yaml'), `
log: { level: warn }
admin: false
inbound:
  tls: ${files.server}
  listeners: [{ host: 127.0.0.1, port: ${ports.peer}, h3: true }]
  targets:
    - { address: "${web}", allow: ["${trustDomain}"] }
    - { address: "${echo}", protocol: tcp, allow: ["${trustDomain}"] }
`)
    await writeFile(join(dir, 'outbound.yaml'), `
log: { level: warn }
admin: { host: 127.0.0.1, port: ${ports.admin} }
services:
  web:
    aliases: [web.test]
    endpoints: [{ peer: "127.0.0.1:${ports.peer}", identity: "${pki.id('server')}", target: "${web}", transport: h3 }]
  echo:
    endpoints: [{ peer: "127.0.0.1:${ports.peer}", identity: "${pki.id('server')}", target: "${echo}", transport: h3 }]
outbound:
  tls: ${files.client}
  listeners:
    - { name: app, host: 127.0.0.1, port: ${ports.app}, protocol: auto, tcpService: echo }
    - { name: tcp, host: 127.0.0.1, port: ${ports.tcp}, protocol: tcp, tcpService: echo }
`)
    for (const [role, port] of [['inbound', ports.peer], ['outbound', ports.app]] as const) {
      const child = spawn(process.execPath, [CLI, 'run', join(dir, `${role}.yaml`)], { stdio: 'ignore' })
      children.push(child)
      await listening(port, child)
    }
  })

  after(async () => {
    await Promise.all(children.map(async (child) => {
      if (child.exitCode !== null) return
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
    }))
    await upstream?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('carries HTTP/1, h2c and TCP, all over one QUIC session', async () => {
    const reply = await get(ports.app, '/one')
    assert.equal(reply.status, 200)
    const body = JSON.parse(reply.body) as { protocol: string, caller: string }
    assert.equal(body.protocol, 'HTTP/1.1')
    assert.equal(body.caller, identity)

    const session = http2.connect(`http://127.0.0.1:${ports.app}`)
    const h2body = await new Promise<string>((resolve, reject) => {
      const stream = session.request({ ':path': '/two', ':authority': 'web.test' })
      let data = ''
      stream.setEncoding('utf8')
      stream.on('data', (c: string) => { data += c })
      stream.on('end', () => resolve(data))
      stream.on('error', reject)
    })
    session.close()
    assert.equal((JSON.parse(h2body) as { protocol: string }).protocol, 'HTTP/2.0')

    const echoed = await new Promise<string>((resolve, reject) => {
      const socket = net.connect({ host: '127.0.0.1', port: ports.tcp, allowHalfOpen: true })
      let data = ''
      socket.on('data', (c: Buffer) => { data += c.toString() })
      socket.on('end', () => { socket.end(); resolve(data) })
      socket.on('error', reject)
      socket.on('connect', () => socket.end('over quic'))
    })
    assert.equal(echoed, 'over quic')

    const metrics = await new Promise<string>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: ports.admin, path: '/metrics', agent: false }, (res) => {
        let text = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => { text += c })
        res.on('end', () => resolve(text))
      }).on('error', reject)
    })
    assert.match(metrics, /meshgate_transport_sessions_total\{transport="h3",side="client"\} 1\b/)
    assert.doesNotMatch(metrics, /meshgate_transport_sessions_total\{transport="h2",side="client"\} [1-9]/)
  })
})
