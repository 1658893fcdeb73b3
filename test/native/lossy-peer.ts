// A QUIC peer for lossy-path.test.ts, run inside one of its network namespaces, with the addon
// tuned as meshgate's h3 transport tunes it by default (congestion control included).
//   server TLS_JSON HOST          answers each stream with `<bytes> <sha256>` of its body; prints {"port":N}
//   client TLS_JSON HOST PORT N   uploads N seeded bytes on one stream; prints the answer, what it
//                                 sent (the same form) and the session's loss counters as JSON
// TLS_JSON is a file holding { ca, cert, key } (PEM). Exits 1 on an error, or after 60 s.
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { once } from 'node:events'
import { connect, createServer, type QuicStream } from '../../native/quic.js'
import { bindingTuning, resolveH3Options } from '../../transports/h3/options.js'
import type { TlsMaterial } from '../../transports/contract.js'
import { prng } from '../helpers/seeded-random.js'
import { readAll } from './helpers.js'

const [mode = '', tlsFile = '', host = '', port = '0', bytes = '0'] = process.argv.slice(2)
const tls = JSON.parse(readFileSync(tlsFile, 'utf8')) as TlsMaterial
const tuning = bindingTuning(resolveH3Options())
setTimeout(() => { process.stderr.write('lossy-peer: timed out after 60 s\n'); process.exit(1) }, 60_000).unref()

function fail (err: unknown): never {
  process.stderr.write(`lossy-peer ${mode}: ${err instanceof Error ? err.message : String(err)}\n`)
  process.exit(1)
}

async function serve (): Promise<void> {
  const server = await createServer({
    ...tls,
    ...tuning,
    host,
    port: 0,
    onSession: (session) => {
      session.on('stream', (stream: QuicStream) => {
        stream.on('error', () => {})
        stream.respond({ ':status': '200' })
        const hash = createHash('sha256')
        let n = 0
        stream.on('data', (c: Buffer) => { hash.update(c); n += c.length })
        stream.on('end', () => stream.end(`${n} ${hash.digest('hex')}`))
      })
    },
  })
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n')
}

async function upload (): Promise<void> {
  const total = Number(bytes)
  const random = prng(0x5eed)
  // Fresh bytes for every chunk (the stream may still hold the last one): nothing periodic, so a
  // lost, doubled or misplaced range shows in the digest.
  const nextChunk = (n: number): Buffer => {
    const b = Buffer.allocUnsafe(n)
    for (let i = 0; i < n; i++) b[i] = Math.floor(random() * 256)
    return b
  }
  const session = await connect({ ...tls, ...tuning, host, port: Number(port) })
  const stream = session.request({ ':method': 'POST', ':scheme': 'https', ':authority': 'sink.test', ':path': '/' })
  stream.on('error', fail)
  const answer = readAll(stream)
  const hash = createHash('sha256')
  for (let sent = 0; sent < total; sent += 64 * 1024) {
    const piece = nextChunk(Math.min(64 * 1024, total - sent))
    hash.update(piece)
    if (!stream.write(piece)) await once(stream, 'drain')
  }
  stream.end()
  const got = (await answer).toString()
  const stats = session.stats()
  process.stdout.write(JSON.stringify({
    answer: got,
    sent: `${total} ${hash.digest('hex')}`,
    lostPackets: stats?.lostStreamPackets,
    probeTimeouts: stats?.ptoCount,
    congestionControl: tuning.cc,
  }) + '\n')
  await session.close()
  process.exit(0)
}

if (mode === 'server') serve().catch(fail)
else if (mode === 'client') upload().catch(fail)
else fail(`unknown mode "${mode}" (server | client)`)
