// src/metrics/prom.ts and runtime.ts: prom-client's own classes loaded file by file, the same runtime metrics as collectDefaultMetrics, and none of the rest of the package.
import assert from 'node:assert/strict'
import { dirname, join } from 'node:path'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import * as promClient from 'prom-client'
import { Counter, Gauge, Histogram, Registry } from '../../src/metrics/prom.js'
import { registerRuntimeMetrics } from '../../src/metrics/runtime.js'
import { run } from '../helpers/exec.js'

/** `# HELP` and `# TYPE` lines of a registry, the values left out. */
async function families (registry: promClient.Registry): Promise<string[]> {
  return (await registry.metrics()).split('\n').filter((line) => line.startsWith('# '))
}

test('the classes are prom-client\'s own', () => {
  assert.equal(Registry, promClient.Registry)
  assert.equal(Counter, promClient.Counter)
  assert.equal(Gauge, promClient.Gauge)
  assert.equal(Histogram, promClient.Histogram)
})

test('the runtime metrics are collectDefaultMetrics\' families, with the same help, in the same order', async () => {
  const ours = new Registry()
  registerRuntimeMetrics(ours)
  const theirs = new promClient.Registry()
  promClient.collectDefaultMetrics({ register: theirs })
  assert.deepEqual(await families(ours), await families(theirs))
})

test('process_cpu_* count this process\'s CPU time', async () => {
  const registry = new Registry()
  registerRuntimeMetrics(registry)
  const start = Date.now()
  while (Date.now() - start < 50) Math.sqrt(start)
  const read = async (name: string): Promise<number> => (await registry.getSingleMetric(name)?.get())?.values[0]?.value ?? NaN
  const user = await read('process_cpu_user_seconds_total')
  const total = await read('process_cpu_seconds_total')
  assert.ok(user >= 0.02, `user ${user}`)
  assert.ok(total >= user, `total ${total} user ${user}`)
})

test('a process with metrics loads none of prom-client\'s other modules', async () => {
  const metrics = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'metrics', 'index.js')
  const program = `
    const { createMetrics } = await import(${JSON.stringify(metrics)})
    await createMetrics().registry.metrics()
    const { createRequire } = await import('node:module')
    console.log(Object.keys(createRequire(import.meta.url).cache).filter((f) => f.includes('/node_modules/')).join('\\n'))`
  const { code, stdout, stderr } = await run(process.execPath, ['--input-type=module', '-e', program])
  assert.equal(code, 0, stderr)
  assert.match(stdout, /prom-client\/lib\/registry\.js/)
  assert.doesNotMatch(stdout, /@opentelemetry|tdigest|pushgateway|summary\.js|cluster\.js|prom-client\/index\.js/)
})
