/**
 * A bounded, seeded fuzz run of the native h2c app front (native/engine/src/app-h2c.*): plain
 * TCP connections to a pair's outbound listener on the native data plane that send the preface
 * and then frame sequences from the generators engine-fuzz.test.ts uses against the peer server
 * (h2-fuzz-cases.ts; no CONNECT cases, which the front refuses, sending the listener's h2c to
 * node:http2 for a minute). The proxies run in this process, so a crash in the addon ends the
 * test; after each batch a fresh h2c session must still get its 200 from the engine.
 *
 *   MESHGATE_FUZZ_SEED=1234 node --test dist/test/native/engine-h2c-fuzz.test.js   # replay a seed
 *   MESHGATE_FUZZ_CASES=1000 …                                                      # a longer run
 */
import assert from 'node:assert/strict'
import http2 from 'node:http2'
import { after, before, describe, it } from 'node:test'
import { startPair, type Pair } from '../helpers/pair.js'
import { fuzzSeed } from '../helpers/seeded-random.js'
import { nativeSkip } from '../helpers/transports.js'
import { connectPlain } from './h2-wire.js'
import { GENERATOR_COUNT, makeFuzzCase, runFuzzCase } from './h2-fuzz-cases.js'

const SEED = fuzzSeed(0x68326366)
const CASES = Number(process.env.MESHGATE_FUZZ_CASES ?? 96)
const CASE_MS = 200 // one case's time on the wire before its socket is destroyed
const BATCH = 12 // cases between two health checks
const PARALLEL = 4 // connections at once within a batch

const NATIVE = 'meshgate_http_data_path_total{path="native",reason="plain"}'

async function nativeCount (pair: Pair): Promise<number> {
  const text = await pair.client.metrics.registry.metrics()
  const line = text.split('\n').find((l) => l.startsWith(NATIVE + ' '))
  return line === undefined ? 0 : Number(line.split(' ').pop())
}

/** One GET on a fresh h2c session; resolves with its status (0 when it failed), within 10 s. */
async function healthCheck (port: number): Promise<number> {
  const session = http2.connect(`http://127.0.0.1:${port}`)
  session.on('error', () => {})
  try {
    return await new Promise<number>((resolve) => {
      const stream = session.request({ ':path': '/health', ':authority': 'web.test' })
      let status = 0
      stream.on('response', (h) => { status = Number(h[':status']) })
      stream.on('error', () => resolve(0))
      stream.on('close', () => resolve(status))
      stream.resume()
      stream.setTimeout(10_000, () => stream.close(http2.constants.NGHTTP2_CANCEL))
    })
  } finally {
    session.destroy()
  }
}

describe('native h2c front: seeded frame fuzz', { skip: nativeSkip(), timeout: 120_000 }, () => {
  let pair: Pair
  before(async () => { pair = await startPair({ transport: 'h2', dataPlane: 'native' }) })
  after(async () => { await pair?.close() })

  it(`survives ${CASES} generated cases (seed ${SEED}) and serves a fresh h2c session natively after each batch`, async (t) => {
    t.diagnostic(`seed ${SEED}: replay with MESHGATE_FUZZ_SEED=${SEED}`)
    const outcomes = new Map<string, number>()
    const byGenerator = new Map<string, number>()
    assert.equal(await healthCheck(pair.appPort), 200)
    for (let first = 0; first < CASES; first += BATCH) {
      const queue = Array.from({ length: Math.min(BATCH, CASES - first) }, (_, i) => first + i)
      await Promise.all(Array.from({ length: PARALLEL }, async () => {
        for (let index = queue.shift(); index !== undefined; index = queue.shift()) {
          const c = makeFuzzCase(SEED, index, { connect: false })
          byGenerator.set(c.name, (byGenerator.get(c.name) ?? 0) + 1)
          let outcome: string
          try {
            outcome = await runFuzzCase(await connectPlain(pair.appPort, { preface: c.preface !== false, keepFrames: false }), c, CASE_MS)
          } catch (err) {
            outcome = `connect failed: ${(err as Error).message}`
          }
          const key = `${c.name}: ${outcome}`
          outcomes.set(key, (outcomes.get(key) ?? 0) + 1)
        }
      }))
      const before = await nativeCount(pair)
      assert.equal(await healthCheck(pair.appPort), 200, `after the batch from case ${first}`)
      assert.equal(await nativeCount(pair), before + 1, 'the health check went through the engine')
    }
    for (const [key, n] of [...outcomes].sort()) t.diagnostic(`${n} × ${key}`)
    assert.equal([...outcomes.keys()].filter((k) => k.includes('connect failed')).length, 0, 'every fuzz connection was accepted')
    assert.ok(byGenerator.size >= Math.min(GENERATOR_COUNT - 1, 10), `the seed covered ${byGenerator.size} generators`)
  })
})
