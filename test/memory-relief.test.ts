// src/memory-relief.ts and the engine's relieveMemory(): when a burst counts as over, that the call
// gives heap back, and that a running proxy does it after start-up unless told not to.
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { BurstEnd } from '../src/memory-relief.js'
import { freePort, startMeshgate, tcpListening } from './helpers/meshgate-process.js'
import { run } from './helpers/exec.js'
import { h2NativeAvailability } from '../transports/h2-native/index.js'

const availability = h2NativeAvailability()
const SKIP: string | false = availability.available ? false : `engine addon not built (${availability.reason})`
const ENGINE = fileURLToPath(new URL('../native/engine.js', import.meta.url))

const dir = await mkdtemp(join(tmpdir(), 'meshgate-memory-'))
after(async () => { await rm(dir, { recursive: true, force: true }) })

test('a burst ends after a whole second of quiet, once per burst', () => {
  const burst = new BurstEnd(0.1, 0.02, 1_000)
  assert.equal(burst.sample(1, 250), false, 'quiet without a burst first: nothing to give back')
  assert.equal(burst.sample(200, 250), false, 'busy')
  assert.deepEqual([1, 1, 1].map((ms) => burst.sample(ms, 250)), [false, false, false], 'three quiet samples are 750 ms')
  assert.equal(burst.sample(1, 250), true, 'the fourth completes the second')
  assert.deepEqual([1, 1, 1, 1, 1].map((ms) => burst.sample(ms, 250)), [false, false, false, false, false], 'once per burst')
  assert.equal(burst.sample(100, 250), false, 'busy again')
  assert.deepEqual([1, 1, 1, 12].map((ms) => burst.sample(ms, 250)), [false, false, false, false], 'a sample above the quiet share restarts the second')
  assert.deepEqual([1, 1, 1, 1].map((ms) => burst.sample(ms, 250)), [false, false, false, true])
})

test('start-up counts as a burst', () => {
  const burst = new BurstEnd(0.1, 0.02, 500, true)
  assert.deepEqual([0, 0].map((ms) => burst.sample(ms, 250)), [false, true])
})

test('relieveMemory() gives back heap a burst grew', { skip: SKIP }, async () => {
  const program = `
    const { getHeapStatistics } = await import('node:v8')
    const { loadEngine } = await import(${JSON.stringify(ENGINE)})
    const engine = loadEngine()
    let keep = []
    for (let i = 0; i < 400000; i++) keep.push({ i, s: 'item ' + i })
    keep = null
    const before = getHeapStatistics().total_heap_size
    engine.relieveMemory()
    const after = getHeapStatistics().total_heap_size
    console.log(JSON.stringify({ before, after }))`
  const { code, stdout, stderr } = await run(process.execPath, ['--input-type=module', '-e', program])
  assert.equal(code, 0, stderr)
  const { before, after } = JSON.parse(stdout) as { before: number, after: number }
  assert.ok(before - after > 10e6, `heap ${before} → ${after} bytes`)
})

/** /metrics once the first release shows, or after `waitMs`. */
async function releasesAfterStart (name: string, memory: string, waitMs: number): Promise<string> {
  const admin = await freePort()
  const port = await freePort()
  const pki = join(dir, `pki-${name}`)
  const file = join(dir, `${name}.yaml`)
  await writeFile(file, `devPki: { dir: ${pki}, workloads: [server] }
inbound:
  tls: { ca: ${pki}/ca.crt, cert: ${pki}/server.crt, key: ${pki}/server.key }
  listeners: [{ host: 127.0.0.1, port: ${port} }]
  targets: [{ address: "127.0.0.1:9", allow: ["*"] }]
admin: { host: 127.0.0.1, port: ${admin} }
log: { level: warn }
${memory}
`)
  const proc = startMeshgate(file)
  try {
    await tcpListening(admin, proc)
    // Start-up is a burst; a second of quiet after it gives its garbage back.
    const deadline = Date.now() + waitMs
    let text = ''
    while (Date.now() < deadline) {
      text = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text()
      if (/^meshgate_memory_releases_total [1-9]/m.test(text)) break
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
    return text
  } finally {
    await proc.stop()
  }
}

test('a running proxy gives memory back after start-up', { skip: SKIP }, async () => {
  const text = await releasesAfterStart('on', '', 15_000)
  assert.match(text, /^meshgate_memory_releases_total 1$/m)
  assert.match(text, /^meshgate_memory_release_seconds_total 0\.\d+/m)
})

test('memory.releaseWhenIdle: false turns it off', { skip: SKIP }, async () => {
  const text = await releasesAfterStart('off', 'memory: { releaseWhenIdle: false }', 4_000)
  assert.match(text, /^process_cpu_seconds_total /m, 'metrics are served')
  assert.doesNotMatch(text, /meshgate_memory_releases_total/)
})

test('memory.releaseWhenIdle must be a boolean', async () => {
  const file = join(dir, 'bad.yaml')
  await writeFile(file, 'memory: { releaseWhenIdle: sometimes }\n')
  const { code, stderr } = await run(process.execPath, [fileURLToPath(new URL('../src/cli.js', import.meta.url)), 'check', file])
  assert.equal(code, 1)
  assert.match(stderr, new RegExp(`${file}: memory\\.releaseWhenIdle: expected true or false, found "sometimes"`))
})
