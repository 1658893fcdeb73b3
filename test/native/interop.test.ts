/**
 * Interop with Debian's ngtcp2 example tools (packages ngtcp2-server / ngtcp2-client, the same
 * libngtcp2 + libnghttp3 + GnuTLS): our client downloads a file from `gtlsserver`, and
 * `gtlsclient` downloads one from our server (also after Version Negotiation); sha256 compared.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, createReadStream } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { makePki, type TestPki } from '../helpers/pki.js'
import { SKIP } from './helpers.js'
import { connect, createServer, type QuicSession } from '../../native/quic.js'
import type { TlsMaterial } from '../../transports/contract.js'

function haveTool (name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0
}

const TOOLS_SKIP: string | false = SKIP !== false
  ? SKIP
  : !haveTool('gtlsserver') || !haveTool('gtlsclient')
      ? 'Debian\'s gtlsserver/gtlsclient not installed (apt-get install ngtcp2-server ngtcp2-client)'
      : false

let dir: string
let pki: TestPki
let serverTls: TlsMaterial
let clientTls: TlsMaterial
let content: Buffer
const children: ChildProcess[] = []

before(async () => {
  if (TOOLS_SKIP !== false) return
  dir = mkdtempSync(join(tmpdir(), 'meshgate-quic-interop-'))
  pki = await makePki()
  serverTls = await pki.workload('server')
  clientTls = await pki.workload('client')
  for (const [name, pem] of Object.entries({
    'server.pem': serverTls.cert, 'server.key': serverTls.key, 'client.pem': clientTls.cert, 'client.key': clientTls.key,
  })) writeFileSync(join(dir, name), pem)
  mkdirSync(join(dir, 'htdocs'))
  mkdirSync(join(dir, 'download'))
  content = randomBytes(3 * 1024 * 1024 + 17)
  writeFileSync(join(dir, 'htdocs', 'file.bin'), content)
})

after(() => {
  for (const child of children) child.kill('SIGTERM')
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
})

function sha256 (data: Buffer): string {
  return createHash('sha256').update(data).digest('hex')
}

async function freeUdpPort (): Promise<number> {
  const socket = createSocket('udp4')
  await new Promise<void>(resolve => socket.bind(0, '127.0.0.1', resolve))
  const { port } = socket.address()
  await new Promise<void>(resolve => socket.close(() => resolve()))
  return port
}

async function connectWithRetry (port: number): Promise<QuicSession> {
  const deadline = Date.now() + 5000
  for (;;) {
    try {
      return await connect({ ...clientTls, host: '127.0.0.1', port, servername: 'localhost', handshakeTimeoutMs: 500 })
    } catch (err) {
      if (Date.now() > deadline) throw err
      await new Promise(resolve => setTimeout(resolve, 100))
    }
  }
}

test('our client downloads from Debian\'s gtlsserver (client certificate requested)', { skip: TOOLS_SKIP }, async () => {
  const port = await freeUdpPort()
  const server = spawn('gtlsserver', ['-q', '--verify-client', `--htdocs=${join(dir, 'htdocs')}`, '127.0.0.1', String(port),
    join(dir, 'server.key'), join(dir, 'server.pem')], { stdio: 'ignore' })
  children.push(server)
  const session = await connectWithRetry(port)
  assert.equal(session.peerIdentity, pki.id('server'))
  const stream = session.request({ ':method': 'GET', ':scheme': 'https', ':authority': `localhost:${port}`, ':path': '/file.bin' }, { endStream: true })
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  assert.equal(stream.headers?.[':status'], '200')
  const body = Buffer.concat(chunks)
  assert.equal(body.length, content.length)
  assert.equal(sha256(body), sha256(content))
  await session.close()
  server.kill('SIGTERM')
})

for (const [name, extraArgs] of [
  ['Debian\'s gtlsclient downloads from our server (with its client certificate)', []],
  ['gtlsclient offering an unknown QUIC version gets Version Negotiation and retries in v1', ['-v', '0x1a2a3a4a', '--preferred-versions=v1']],
] as Array<[string, string[]]>) {
  test(name, { skip: TOOLS_SKIP }, async () => { await gtlsclientDownload(extraArgs) })
}

async function gtlsclientDownload (extraArgs: string[]): Promise<void> {
  const identities: string[] = []
  const server = await createServer({
    ...serverTls,
    host: '127.0.0.1',
    port: 0,
    onSession: (session) => {
      identities.push(session.peerIdentity)
      session.on('stream', (stream, headers) => {
        if (headers?.[':path'] !== '/file.bin') {
          stream.respond({ ':status': '404' }, { endStream: true })
          return
        }
        stream.respond({ ':status': '200', 'content-length': String(content.length) })
        createReadStream(join(dir, 'htdocs', 'file.bin')).pipe(stream)
      })
    },
  })
  const { port } = server.address()
  rmSync(join(dir, 'download', 'file.bin'), { force: true })
  const client = spawn('gtlsclient', ['-q', ...extraArgs, '--exit-on-all-streams-close', `--download=${join(dir, 'download')}`,
    `--key=${join(dir, 'client.key')}`, `--cert=${join(dir, 'client.pem')}`,
    '127.0.0.1', String(port), `https://127.0.0.1:${port}/file.bin`], { stdio: 'ignore' })
  children.push(client)
  const [code] = await new Promise<[number | null]>(resolve => client.on('exit', (c) => resolve([c])))
  assert.equal(code, 0)
  const downloaded = readFileSync(join(dir, 'download', 'file.bin'))
  assert.equal(sha256(downloaded), sha256(content))
  assert.deepEqual(identities, [pki.id('client')])
  await server.close()
}
