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
 * It prints `{"port":N}` once it is up (0 without the admin layer), then
 * `{"rssBytes":N,"fileBytes":N,"binaryBytes":N}` after `idleMs` and exits: VmRSS, its file-backed
 * part (RssFile) and the resident pages of the node binary itself (from /proc/self/smaps), all read
 * after VmRSS so that reading them does not count in it. None of meshgate's own modules beyond
 * those two settings files are loaded.
 *
 *   node --max-semi-space-size=4 --v8-pool-size=1 dist/bench/idle-floor/stack.js LAYER [idleMs]
 */
import { readFileSync, writeSync } from 'node:fs'
import { createRequire } from 'node:module'
import { endStartup } from '../../src/startup-v8.js'
import { FLOOR_LAYERS, type FloorLayer } from './layers.js'

/** RssFile of /proc/self/status, and the Rss of the mappings of the running node binary (/proc/self/smaps), bytes. */
function fileBacked (): { fileBytes: number, binaryBytes: number } {
  const status = readFileSync('/proc/self/status', 'utf8')
  const fileKib = Number(/^RssFile:\s+(\d+) kB/m.exec(status)?.[1] ?? 0)
  let binaryKib = 0
  let inBinary = false
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const mapping = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line)
    if (mapping !== null) inBinary = mapping[1] === process.execPath
    else if (inBinary && line.startsWith('Rss:')) binaryKib += Number(/(\d+)/.exec(line)?.[1] ?? 0)
  }
  return { fileBytes: fileKib * 1024, binaryBytes: binaryKib * 1024 }
}

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
    const rssBytes = process.memoryUsage.rss()
    writeSync(1, JSON.stringify({ rssBytes, ...fileBacked(), kept: keep.length }) + '\n')
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
