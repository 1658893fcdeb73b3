/**
 * The floor under issue 10's and 11's idle-RSS target (≤ 50 MB per proxy): what a process that
 * loads only the stack meshgate is built on keeps resident when idle, layer by layer
 * (idle-floor/layers.ts). Each layer is a fresh process (idle-floor/stack.ts) run with meshgate's
 * node flags, read 5 s after start as the bench reads a proxy's idle RSS; the figure is the median
 * of `rounds` starts. What meshgate's own code may take is the target less the last layer.
 *
 * `npm run bench` runs it after the path matrix (`--idle-floor 0` skips it), or alone:
 *
 *   node dist/bench/scenarios/idle-floor.js [--rounds 3] [--idle-ms 5000] [--out bench/out]
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { NODE_FLAGS } from '../../src/node-flags.js'
import { FLOOR_LAYER_TEXT, FLOOR_LAYERS, type FloorLayer } from '../idle-floor/layers.js'
import { table } from '../report.js'
import { runStandalone, writeBenchReport } from '../standalone.js'
import { NATIVE_IDLE_RSS_LIMIT_BYTES } from '../targets.js'

export const IDLE_FLOOR_ID = 'idle-floor'

export interface IdleFloorOptions {
  repoDir: string
  /** Starts per layer (default 3). */
  rounds?: number
  /** How long each process idles before it reads its RSS, ms (default 5000). */
  idleMs?: number
  log?: (line: string) => void
}

export interface IdleFloorLayer {
  layer: FloorLayer
  what: string
  /** VmRSS of each start, bytes. */
  rssBytes: number[]
  medianBytes: number
  /** Medians over the starts of the file-backed part (RssFile) and of the node binary's own resident pages, bytes. */
  fileMedianBytes: number
  binaryMedianBytes: number
}

/** One start's reading (idle-floor/stack.ts), bytes. */
interface FloorReading {
  rssBytes: number
  fileBytes: number
  binaryBytes: number
}

export interface IdleFloorResult {
  options: { rounds: number, idleMs: number, nodeFlags: readonly string[] }
  layers: IdleFloorLayer[]
  targetBytes: number
  markdown: string
}

function median (values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid] ?? 0 : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2
}

/** Starts one layer's process, asks its server once if it has one, returns its idle reading. */
async function measureOnce (repoDir: string, layer: FloorLayer, idleMs: number): Promise<FloorReading> {
  const script = join(repoDir, 'dist', 'bench', 'idle-floor', 'stack.js')
  const child = spawn(process.execPath, [...NODE_FLAGS, script, layer, String(idleMs)], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr = (stderr + chunk).slice(-2_000) })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, idleMs + 15_000)
  try {
    for await (const line of createInterface({ input: child.stdout })) {
      const message = JSON.parse(line) as { port?: number, rssBytes?: number, fileBytes?: number, binaryBytes?: number }
      if (message.port !== undefined && message.port > 0) {
        const answer = await fetch(`http://127.0.0.1:${message.port}/ready`, { signal: AbortSignal.timeout(2_000) })
        await answer.text()
      }
      if (message.rssBytes !== undefined) return { rssBytes: message.rssBytes, fileBytes: message.fileBytes ?? 0, binaryBytes: message.binaryBytes ?? 0 }
    }
    throw new Error(`idle-floor layer ${layer} ended without a reading${stderr === '' ? '' : `: ${stderr.trim()}`}`)
  } finally {
    clearTimeout(timer)
    child.kill('SIGKILL')
  }
}

const mb = (bytes: number): string => (bytes / 1e6).toFixed(1)

function render (result: Omit<IdleFloorResult, 'markdown'>): string {
  const rows = result.layers.map((l, i) => {
    const before = result.layers[i - 1]
    return [l.layer, l.what, mb(l.medianBytes), before === undefined ? '–' : `+${mb(l.medianBytes - before.medianBytes)}`, `${mb(Math.min(...l.rssBytes))}–${mb(Math.max(...l.rssBytes))}`, mb(l.fileMedianBytes), mb(l.binaryMedianBytes), mb(l.medianBytes - l.fileMedianBytes)]
  })
  const top = result.layers[result.layers.length - 1]
  const room = top === undefined ? undefined : result.targetBytes - top.medianBytes
  return [
    '# Idle floor: what the stack under meshgate keeps resident',
    '',
    `Each layer is a fresh process (bench/idle-floor/stack.ts) with \`${result.options.nodeFlags.join(' ')}\`, VmRSS ${result.options.idleMs / 1000} s after start, median of ${result.options.rounds} starts. MB = 10^6 bytes.`,
    '',
    table(['layer', 'what it loads', 'idle RSS, MB', 'added, MB', 'range, MB', 'of it file-backed, MB', 'of that the node binary, MB', 'anonymous (the rest), MB'], rows),
    '',
    'File-backed is RssFile (/proc/self/status): resident pages of the node binary (from /proc/self/smaps) and of the shared libraries and addons. They are clean page-cache pages, shared with every process on the host that maps the same files, and counted in each one\'s RSS; the anonymous rest is what each process has to itself.',
    '',
    room === undefined
      ? ''
      : `The idle-RSS target is ≤ ${mb(result.targetBytes)} MB per proxy. With the whole stack loaded and nothing of meshgate's own, ${room >= 0 ? `${mb(room)} MB is left for meshgate's config, discovery, balancing, metrics, admin and logs` : `the floor is already ${mb(-room)} MB above it`}.`,
    '',
  ].join('\n')
}

export async function runIdleFloor (options: IdleFloorOptions): Promise<IdleFloorResult> {
  const rounds = options.rounds ?? 3
  const idleMs = options.idleMs ?? 5_000
  const log = options.log ?? (() => {})
  const readings = new Map<FloorLayer, FloorReading[]>(FLOOR_LAYERS.map((l) => [l, []]))
  for (let round = 1; round <= rounds; round++) {
    for (const layer of FLOOR_LAYERS) {
      const reading = await measureOnce(options.repoDir, layer, idleMs)
      readings.get(layer)?.push(reading)
      log(`idle floor round ${round} ${layer.padEnd(8)} ${mb(reading.rssBytes)} MB (${mb(reading.fileBytes)} file-backed, ${mb(reading.binaryBytes)} of it the node binary)`)
    }
  }
  const layers = FLOOR_LAYERS.map((layer) => {
    const got = readings.get(layer) ?? []
    const rssBytes = got.map((r) => r.rssBytes)
    return {
      layer,
      what: FLOOR_LAYER_TEXT[layer],
      rssBytes,
      medianBytes: median(rssBytes),
      fileMedianBytes: median(got.map((r) => r.fileBytes)),
      binaryMedianBytes: median(got.map((r) => r.binaryBytes)),
    }
  })
  const result = { options: { rounds, idleMs, nodeFlags: NODE_FLAGS }, layers, targetBytes: NATIVE_IDLE_RSS_LIMIT_BYTES }
  return { ...result, markdown: render(result) }
}

/** Runs the idle floor and writes `<out>/idle-floor.md` and `.json`; returns the markdown. */
export async function runAndWriteIdleFloor (outDir: string, options: IdleFloorOptions): Promise<string> {
  const result = await runIdleFloor(options)
  await writeBenchReport(outDir, IDLE_FLOOR_ID, result.markdown, { date: new Date().toISOString(), ...result })
  return result.markdown
}

runStandalone(IDLE_FLOOR_ID, import.meta.url, {
  rounds: { type: 'string', default: '3' },
  'idle-ms': { type: 'string', default: '5000' },
}, async (values, ctx) => await runAndWriteIdleFloor(ctx.outDir, {
  repoDir: ctx.repoDir,
  rounds: Number(values.rounds),
  idleMs: Number(values['idle-ms']),
  log: ctx.log,
}))
