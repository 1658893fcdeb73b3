/**
 * A bounded, seeded fuzz run of the native h2 engine's server: sessions over real TLS (ALPN h2,
 * the test client certificate) that send the preface and then frame sequences made by a small
 * PRNG — random frames, valid ones mutated, and the known abuse shapes (huge lengths, SETTINGS,
 * PING and empty-DATA floods, CONTINUATION without HEADERS, RST_STREAM storms, WINDOW_UPDATE
 * overflow…). The server runs in this process, so a crash in the addon ends the test; after each
 * batch a fresh session through the transport must still get its 200.
 *
 *   MESHGATE_FUZZ_SEED=1234 node --test dist/test/native/engine-fuzz.test.js   # replay a seed
 *   MESHGATE_FUZZ_CASES=1000 …                                                  # a longer run
 */
import assert from 'node:assert/strict'
import { createServer, type AddressInfo, type Server } from 'node:net'
import { Readable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { MeshError, toMeshError } from '../../core/errors.js'
import type { TlsMaterial } from '../../transports/contract.js'
import { makePki } from '../helpers/pki.js'
import { fuzzSeed } from '../helpers/seeded-random.js'
import { nativeSkip } from '../helpers/transports.js'
import { connectRaw } from './h2-wire.js'
import { GENERATOR_COUNT, makeFuzzCase, runFuzzCase, setTunnelTarget, type FuzzCase } from './h2-fuzz-cases.js'
import { answerOk, startEngineRig, type EngineRig } from './engine-rig.js'

const SKIP = nativeSkip()

const SEED = fuzzSeed(0x6d657368)
const CASES = Number(process.env.MESHGATE_FUZZ_CASES ?? 120)
const CASE_MS = 200 // one case's time on the wire before its socket is destroyed
const BATCH = 12 // cases between two health checks
const PARALLEL = 4 // sessions at once within a batch

describe('native h2 engine: seeded frame fuzz', { skip: SKIP, timeout: 120_000 }, () => {
  let clientTls: TlsMaterial
  let rig: EngineRig
  let target: Server
  const tunnels = new Map<string, number>() // how the spliced tunnels ended

  before(async () => {
    const pki = await makePki()
    clientTls = await pki.workload('client')
    rig = await startEngineRig(pki)
    // POSTs get a 100 KB body and trailers (flow control both ways); GETs a short one.
    rig.handler = (exchange) => {
      if (exchange.head.method !== 'POST') return answerOk(exchange)
      exchange.body.on('error', () => {})
      exchange.body.resume()
      exchange.respond({ status: 200, headers: {} }, Readable.from([Buffer.alloc(60_000, 1), Buffer.alloc(40_000, 2)]), () => ({ 'x-done': '1' }))
    }
    // CONNECT streams are spliced by the engine to a TCP target that echoes, half-closes or resets.
    target = createServer((socket) => {
      socket.on('error', () => {})
      socket.once('data', (first: Buffer) => {
        const mode = (first[0] ?? 0) % 3
        if (mode === 0) socket.destroy()
        else if (mode === 1) socket.end(first)
        else {
          socket.write(first)
          socket.pipe(socket)
        }
      })
    })
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve))
    setTunnelTarget(`127.0.0.1:${(target.address() as AddressInfo).port}`)
    rig.tunnelHandler = (tunnel) => {
      const [host = '', port = ''] = tunnel.head.authority.split(':')
      const splice = tunnel.spliceTo
      if (splice === undefined || Number(port) <= 0) return tunnel.reject(new MeshError('E_NO_ROUTE', 'no such target'))
      splice(host, Number(port), 500, 1000).then((result) => {
        tunnels.set(result.error?.code ?? 'done', (tunnels.get(result.error?.code ?? 'done') ?? 0) + 1)
      }, (err: unknown) => {
        tunnels.set('refused', (tunnels.get('refused') ?? 0) + 1)
        tunnel.reject(toMeshError(err))
      })
    }
  })
  after(async () => {
    await rig?.stop()
    target?.close()
  })

  /** Runs one case; resolves with how it ended. */
  async function run (c: FuzzCase): Promise<string> {
    const raw = await connectRaw(rig.port, clientTls, { preface: c.preface !== false, keepFrames: false })
    return await runFuzzCase(raw, c, CASE_MS)
  }

  it(`survives ${CASES} generated cases (seed ${SEED}) and serves a fresh session after each batch`, async (t) => {
    t.diagnostic(`seed ${SEED}: replay with MESHGATE_FUZZ_SEED=${SEED}`)
    const started = Date.now()
    const outcomes = new Map<string, number>()
    const byGenerator = new Map<string, number>()
    await rig.healthCheck()
    for (let first = 0; first < CASES; first += BATCH) {
      const indices = Array.from({ length: Math.min(BATCH, CASES - first) }, (_, i) => first + i)
      const queue = [...indices]
      await Promise.all(Array.from({ length: PARALLEL }, async () => {
        for (let index = queue.shift(); index !== undefined; index = queue.shift()) {
          const c = makeFuzzCase(SEED, index)
          byGenerator.set(c.name, (byGenerator.get(c.name) ?? 0) + 1)
          let outcome: string
          try {
            outcome = await run(c)
          } catch (err) {
            outcome = `connect failed: ${(err as Error).message}` // counted, then the health check decides
          }
          const key = `${c.name}: ${outcome}`
          outcomes.set(key, (outcomes.get(key) ?? 0) + 1)
        }
      }))
      await rig.healthCheck()
    }
    const seconds = (Date.now() - started) / 1000
    t.diagnostic(`${CASES} cases in ${seconds.toFixed(1)} s`)
    for (const [key, n] of [...outcomes].sort()) t.diagnostic(`${n} × ${key}`)
    t.diagnostic(`tunnels: ${[...tunnels].map(([end, n]) => `${n} ${end}`).join(', ')}`)
    assert.equal([...outcomes.keys()].filter((k) => k.includes('connect failed')).length, 0, 'every fuzz session completed its TLS handshake')
    assert.ok(byGenerator.size >= Math.min(GENERATOR_COUNT, 10), `the seed covered ${byGenerator.size} generators`)
    assert.deepEqual(rig.logs.filter((e) => e.level === 'error'), [], 'no error was logged by the listener')
  })
})
