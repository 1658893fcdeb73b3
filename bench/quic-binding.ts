/**
 * Bulk throughput of the QUIC/HTTP/3 addon against Debian's C tools, same run, loopback:
 * 100 MB over one HTTP/3 stream (server → client), each pair in two processes.
 *   C      gtlsclient  ← gtlsserver
 *   ours   quic.ts client ← quic.ts server (child process)
 *   mixed  quic.ts client ← gtlsserver, gtlsclient ← quic.ts server
 * Prints MB/s per pair and the ratio ours/C (issue 5 target: ≥ 0.5).
 * Usage: node dist/bench/quic-binding.js [--mb=100] [--runs=3]
 */
import { spawn, spawnSync } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { quicAvailable, QUIC_INSTALL_HINT } from '../native/index.js'
import { connect, createServer } from '../native/quic.js'
import { makePki } from '../test/helpers/pki.js'

const arg = (name: string, fallback: number): number => {
  const found = process.argv.find(a => a.startsWith(`--${name}=`))
  return found === undefined ? fallback : Number(found.split('=')[1])
}
const MB = arg('mb', 100)
const RUNS = arg('runs', 3)
const SIZE = MB * 1024 * 1024
const CHUNK = 256 * 1024

/** Child role: an HTTP/3 server that answers any GET with SIZE bytes; prints its port. */
async function serve (certDir: string): Promise<void> {
  const { readFileSync } = await import('node:fs')
  const block = Buffer.alloc(CHUNK, 0x61)
  const server = await createServer({
    host: '127.0.0.1',
    port: 0,
    ca: readFileSync(join(certDir, 'ca.pem'), 'utf8'),
    cert: readFileSync(join(certDir, 'server.pem'), 'utf8'),
    key: readFileSync(join(certDir, 'server.key'), 'utf8'),
    requireClientCert: false,
    onSession: (session) => {
      session.on('stream', (stream) => {
        stream.respond({ ':status': '200', 'content-length': String(SIZE) })
        let sent = 0
        const pump = (): void => {
          while (sent < SIZE) {
            const n = Math.min(CHUNK, SIZE - sent)
            sent += n
            if (!stream.write(n === CHUNK ? block : block.subarray(0, n))) {
              stream.once('drain', pump)
              return
            }
          }
          stream.end()
        }
        pump()
      })
    },
  })
  process.stdout.write(`${server.address().port}\n`)
  process.stdin.resume()
  process.stdin.on('end', () => {
    server.close().then(() => process.exit(0), () => process.exit(1))
  })
}

async function freeUdpPort (): Promise<number> {
  const socket = createSocket('udp4')
  await new Promise<void>(resolve => socket.bind(0, '127.0.0.1', resolve))
  const { port } = socket.address()
  await new Promise<void>(resolve => socket.close(() => resolve()))
  return port
}

async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

/** Our client: downloads SIZE bytes on one stream; resolves the seconds from connect to last byte. */
async function ourClient (port: number, ca: string): Promise<number> {
  const deadline = Date.now() + 5000
  for (;;) {
    try {
      const t0 = process.hrtime.bigint()
      const session = await connect({ host: '127.0.0.1', port, ca, cert: '', key: '', servername: 'localhost', handshakeTimeoutMs: 500 })
      const stream = session.request({ ':method': 'GET', ':scheme': 'https', ':authority': `localhost:${port}`, ':path': '/file.bin' }, { endStream: true })
      let received = 0
      for await (const chunk of stream) received += (chunk as Buffer).length
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9
      if (received !== SIZE) throw new Error(`received ${received} of ${SIZE} bytes`)
      await session.close()
      return seconds
    } catch (err) {
      if (Date.now() > deadline) throw err
      await sleep(100)
    }
  }
}

/** gtlsclient: downloads into a directory; resolves the wall seconds of the whole run. */
async function cClient (port: number, downloadDir: string): Promise<number> {
  const t0 = process.hrtime.bigint()
  const child = spawn('gtlsclient', ['-q', '--exit-on-all-streams-close', '--no-quic-dump', '--no-http-dump',
    `--download=${downloadDir}`, '127.0.0.1', String(port), `https://127.0.0.1:${port}/file.bin`], { stdio: 'ignore' })
  const code = await new Promise<number | null>(resolve => child.on('exit', resolve))
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  if (code !== 0) throw new Error(`gtlsclient exited with ${code}`)
  const size = statSync(join(downloadDir, 'file.bin')).size
  if (size !== SIZE) throw new Error(`gtlsclient saved ${size} of ${SIZE} bytes`)
  rmSync(join(downloadDir, 'file.bin'))
  return seconds
}

async function withCServer<T> (dir: string, fn: (port: number) => Promise<T>): Promise<T> {
  const port = await freeUdpPort()
  const child = spawn('gtlsserver', ['-q', `--htdocs=${join(dir, 'htdocs')}`, '127.0.0.1', String(port),
    join(dir, 'server.key'), join(dir, 'server.pem')], { stdio: 'ignore' })
  try {
    await sleep(300)
    return await fn(port)
  } finally {
    child.kill('SIGTERM')
  }
}

async function withOurServer<T> (dir: string, fn: (port: number) => Promise<T>): Promise<T> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve', dir, `--mb=${MB}`], { stdio: ['pipe', 'pipe', 'inherit'] })
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.once('data', (d: Buffer) => resolve(Number(d.toString().trim())))
    child.once('exit', code => reject(new Error(`server exited with ${code}`)))
  })
  try {
    return await fn(port)
  } finally {
    child.stdin?.end()
    await new Promise(resolve => child.once('exit', resolve))
  }
}

function best (samples: number[]): number {
  return Math.min(...samples)
}

async function main (): Promise<void> {
  if (process.argv.includes('--serve')) {
    await serve(process.argv[process.argv.indexOf('--serve') + 1] as string)
    return
  }
  if (!quicAvailable()) {
    console.log(`quic-binding bench skipped: addon not built (${QUIC_INSTALL_HINT})`)
    return
  }
  const tools = spawnSync('sh', ['-c', 'command -v gtlsserver && command -v gtlsclient'], { stdio: 'ignore' }).status === 0
  const dir = mkdtempSync(join(tmpdir(), 'meshgate-quic-bench-'))
  try {
    const pki = await makePki()
    const server = await pki.workload('server')
    writeFileSync(join(dir, 'ca.pem'), server.ca)
    writeFileSync(join(dir, 'server.pem'), server.cert)
    writeFileSync(join(dir, 'server.key'), server.key)
    mkdirSync(join(dir, 'htdocs'))
    mkdirSync(join(dir, 'download'))
    writeFileSync(join(dir, 'htdocs', 'file.bin'), Buffer.alloc(SIZE, 0x61))
    const results: Record<string, number[]> = { ours: [], c: [], 'ours←gtlsserver': [], 'gtlsclient←ours': [] }
    for (let run = 0; run < RUNS; run++) {
      results.ours?.push(await withOurServer(dir, async port => await ourClient(port, server.ca)))
      if (!tools) continue
      results.c?.push(await withCServer(dir, async port => await cClient(port, join(dir, 'download'))))
      results['ours←gtlsserver']?.push(await withCServer(dir, async port => await ourClient(port, server.ca)))
      results['gtlsclient←ours']?.push(await withOurServer(dir, async port => await cClient(port, join(dir, 'download'))))
    }
    const rate = (seconds: number): number => MB / seconds
    console.log(`quic-binding: ${MB} MB over one HTTP/3 stream on loopback, best of ${RUNS} runs`)
    for (const [name, samples] of Object.entries(results)) {
      if (samples.length === 0) continue
      console.log(`  ${name.padEnd(18)} ${rate(best(samples)).toFixed(1).padStart(7)} MB/s  (runs: ${samples.map(s => s.toFixed(2) + 's').join(' ')})`)
    }
    if (tools && results.c !== undefined && results.ours !== undefined) {
      const ratio = rate(best(results.ours)) / rate(best(results.c))
      console.log(`  ratio ours/C: ${ratio.toFixed(2)}x (target >= 0.5x)`)
    } else {
      console.log('  gtlsserver/gtlsclient not installed (apt-get install ngtcp2-server ngtcp2-client): no C baseline')
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

await main()
