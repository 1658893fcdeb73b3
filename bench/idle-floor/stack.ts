/**
 * The child of scenarios/idle-floor.ts: a process that loads one layer more of the stack meshgate
 * is built on than the layer before, does the least a proxy does with each, then idles, and prints
 * its VmRSS. Layers, each including the ones before:
 *
 *   runtime  Node with meshgate's flags (src/node-flags.ts) and start-up V8 settings (src/startup-v8.ts)
 *   engine   + the engine addon, as meshgate loads it; memory given back after start-up as meshgate does
 *   deps     + a pino logger, a YAML document parsed with yaml, a prom-client registry with a counter
 *   admin    + a node:http server on 127.0.0.1 (the parent asks it one question, as the bench asks /ready)
 *
 * It prints `{"port":N}` once it is up (0 without the admin layer), then `{"rssBytes":N}` after
 * `idleMs` and exits. None of meshgate's own modules beyond those two settings files are loaded.
 *
 *   node --max-semi-space-size=4 --v8-pool-size=1 dist/bench/idle-floor/stack.js LAYER [idleMs]
 */
import { writeSync } from 'node:fs'
import { createRequire } from 'node:module'
import { endStartup } from '../../src/startup-v8.js'
import { FLOOR_LAYERS, type FloorLayer } from './layers.js'

async function main (layer: FloorLayer, idleMs: number): Promise<void> {
  const upTo = FLOOR_LAYERS.indexOf(layer)
  const require = createRequire(import.meta.url)
  const keep: unknown[] = []
  let relieve = (): void => {}
  if (upTo >= 1) {
    const { loadEngine } = await import('../../native/engine.js')
    const engine = loadEngine()
    relieve = () => { engine.relieveMemory() }
  }
  if (upTo >= 2) {
    const pino = require('pino') as typeof import('pino')
    keep.push(pino.pino({ level: 'info' }, pino.destination({ dest: 1, sync: false })))
    const { parseDocument } = require('yaml') as typeof import('yaml')
    keep.push(parseDocument('admin:\n  port: 9901\nroutes:\n  - match: {authority: a.example}\n    to: [b, c]\n').toJS())
    const Registry = require('prom-client/lib/registry') as typeof import('prom-client').Registry
    const Counter = require('prom-client/lib/counter') as typeof import('prom-client').Counter
    const registry = new Registry()
    new Counter({ name: 'floor_total', help: 'a counter', registers: [registry] }).inc()
    keep.push(registry)
  }
  let port = 0
  if (upTo >= 3) {
    const { createServer } = await import('node:http')
    const server = createServer((_req, res) => { res.end('ok\n') })
    await new Promise<void>((resolve) => { server.listen(0, '127.0.0.1', resolve) })
    const address = server.address()
    port = typeof address === 'object' && address !== null ? address.port : 0
    keep.push(server)
  }
  endStartup()
  // fs.writeSync, not process.stdout: a piped stdout would load Node's stream and net modules.
  writeSync(1, JSON.stringify({ port }) + '\n')
  // As meshgate's memory relief does after start-up's burst, a second before the reading.
  setTimeout(relieve, Math.max(0, idleMs - 1_000))
  setTimeout(() => {
    writeSync(1, JSON.stringify({ rssBytes: process.memoryUsage.rss(), kept: keep.length }) + '\n')
    process.exit(0)
  }, idleMs)
}

const layer = process.argv[2] as FloorLayer | undefined
if (layer === undefined || !FLOOR_LAYERS.includes(layer)) {
  console.error(`usage: stack.js ${FLOOR_LAYERS.join('|')} [idleMs]`)
  process.exitCode = 2
} else {
  main(layer, Number(process.argv[3] ?? '5000')).catch((err: unknown) => {
    console.error(err instanceof Error ? err.stack ?? err.message : String(err))
    process.exitCode = 1
  })
}
