/**
 * Runs the bench: starts every path once, then for each round runs every scenario on every path
 * in turn (interleaved, so that load from the rest of the machine hits all paths alike), sampling
 * the proxies' RSS and CPU. Records idle RSS after start and RSS after each round (and the JS
 * heap in use, for Node processes that serve metrics), which shows memory growth across
 * back-to-back runs. Produces raw results; report.ts summarises them.
 */
import { mkdir } from 'node:fs/promises'
import { loadavg } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { readHeapUsedBytes } from './node-heap.js'
import type { PathDefinition, BenchContext, PathInstance } from './paths/types.js'
import { UsageSampler, type ScenarioUsage } from './processes.js'
import type { Measurement, Scenario } from './scenarios/types.js'

/** One scenario on one path in one round. */
export interface RunRecord {
  round: number
  scenario: string
  path: string
  measurement?: Measurement
  /** Per proxy process: peak RSS and CPU seconds during this run. */
  usage: Record<string, ScenarioUsage>
  error?: string
}

export interface PathRecord {
  id: string
  title: string
  available: boolean
  /** Why the path is not available, or why it stopped part-way. */
  reason?: string
  /** What the started path runs (PathInstance.description). */
  description?: string
  /** Per process: RSS after start and a settle pause, bytes. */
  idleRssBytes: Record<string, number>
  /** Per process: the file-backed part of that RSS (RssFile), bytes. */
  idleFileBytes: Record<string, number>
  /** Per process: RSS after each round (after a settle pause), bytes. */
  rssAfterRoundBytes: Record<string, number[]>
  /** Per Node process with metrics: JS heap in use after start, bytes. */
  idleHeapUsedBytes: Record<string, number>
  /** Per Node process with metrics: JS heap in use after each round, bytes. */
  heapUsedAfterRoundBytes: Record<string, number[]>
}

export interface SuiteOptions {
  rounds: number
  durationSeconds: number
  /** Unmeasured run of every scenario on every path before round 1, seconds (0 = none). */
  warmupSeconds: number
  /** Pause after start and after each round before reading RSS, ms. */
  settleMs: number
  /** Reverse the order of the paths in even rounds, so that load drifting over the run falls on each alike (default false). */
  alternateOrder?: boolean
  /**
   * Run every path of a scenario at the same time, each with its own load tool (default false:
   * one after another). For comparing variants of one proxy: whatever else loads the machine
   * then falls on all of them in the same seconds, at the price of them sharing the CPUs.
   */
  simultaneous?: boolean
  /** Called with a line of progress. */
  log: (line: string) => void
}

export interface SuiteResults {
  paths: PathRecord[]
  runs: RunRecord[]
  loadAverage: { start: number[], end: number[] }
}

interface MemoryReading {
  rssBytes: number
  fileBytes: number
  heapUsedBytes?: number
}

async function readMemory (instance: PathInstance): Promise<Record<string, MemoryReading>> {
  const result: Record<string, MemoryReading> = {}
  for (const proc of instance.processes) {
    const usage = await proc.usage()
    result[proc.name] = {
      rssBytes: usage.rssBytes,
      fileBytes: usage.fileBytes,
      heapUsedBytes: proc.metricsUrl === undefined ? undefined : await readHeapUsedBytes(proc.metricsUrl),
    }
  }
  return result
}

export async function runSuite (context: BenchContext, paths: readonly PathDefinition[], scenarios: readonly Scenario[], options: SuiteOptions): Promise<SuiteResults> {
  const loadStart = loadavg()
  const records: PathRecord[] = []
  const instances = new Map<string, PathInstance>()
  const runs: RunRecord[] = []
  try {
    for (const path of paths) {
      const record: PathRecord = { id: path.id, title: path.title, available: false, idleRssBytes: {}, idleFileBytes: {}, rssAfterRoundBytes: {}, idleHeapUsedBytes: {}, heapUsedAfterRoundBytes: {} }
      records.push(record)
      try {
        const instance = await path.start(context)
        instances.set(path.id, instance)
        await sleep(options.settleMs)
        for (const [name, reading] of Object.entries(await readMemory(instance))) {
          record.idleRssBytes[name] = reading.rssBytes
          record.idleFileBytes[name] = reading.fileBytes
          if (reading.heapUsedBytes !== undefined) record.idleHeapUsedBytes[name] = reading.heapUsedBytes
        }
        record.available = true
        record.description = instance.description
        options.log(`started ${path.title}${instance.processes.length > 0 ? ` (${instance.processes.map((p) => `${p.name} pid ${p.pid}`).join(', ')})` : ''}${instance.description === undefined ? '' : `: ${instance.description}`}`)
      } catch (err) {
        record.reason = (err as Error).message
        options.log(`${path.title} not available: ${record.reason}`)
      }
    }

    if (options.warmupSeconds > 0) {
      // A short unmeasured run of each scenario first, so that round 1 does not time the JIT.
      for (const scenario of scenarios) {
        for (const record of records) {
          const instance = instances.get(record.id)
          if (!record.available || instance === undefined) continue
          await scenario.run(instance.entry, { durationSeconds: options.warmupSeconds, workDir: context.workDir }).catch(() => undefined)
        }
      }
      options.log(`warmed up (${options.warmupSeconds} s per scenario and path, not measured)`)
    }

    const runOne = async (round: number, scenario: Scenario, record: PathRecord, instance: PathInstance): Promise<void> => {
      const run: RunRecord = { round, scenario: scenario.id, path: record.id, usage: {} }
      runs.push(run)
      const sampler = new UsageSampler(instance.processes)
      // Paths running at once each get their own scratch directory (h2load's request log).
      const workDir = options.simultaneous === true ? join(context.workDir, record.id) : context.workDir
      try {
        await mkdir(workDir, { recursive: true })
        await sampler.start()
        run.measurement = await scenario.run(instance.entry, { durationSeconds: options.durationSeconds, workDir })
      } catch (err) {
        run.error = (err as Error).message.split('\n')[0]
      }
      try {
        run.usage = await sampler.stop()
      } catch (err) {
        run.error ??= (err as Error).message
      }
      const dead = instance.processes.find((p) => !p.alive)
      if (dead !== undefined) {
        record.available = false
        record.reason = `${dead.name} exited during ${scenario.id} round ${round}`
      }
      const m = run.measurement
      options.log(`round ${round} ${scenario.id.padEnd(12)} ${record.title.padEnd(15)} ${m === undefined ? `FAILED: ${run.error ?? ''}` : `${m.value.toFixed(1)} ${m.unit}${m.p99Ms !== undefined ? ` p99 ${m.p99Ms.toFixed(2)} ms` : ''}${m.errors > 0 ? ` (${m.errors} ${m.unit === 'MB/s' ? 'retransmits' : 'errors'})` : ''}`}`)
    }

    for (let round = 1; round <= options.rounds; round++) {
      for (const scenario of scenarios) {
        const order = options.alternateOrder === true && round % 2 === 0 ? [...records].reverse() : records
        const ready = order.flatMap((record) => {
          const instance = instances.get(record.id)
          return record.available && instance !== undefined ? [{ record, instance }] : []
        })
        if (options.simultaneous === true) {
          await Promise.all(ready.map(async ({ record, instance }) => { await runOne(round, scenario, record, instance) }))
          await sleep(500)
          continue
        }
        for (const { record, instance } of ready) {
          await runOne(round, scenario, record, instance)
          await sleep(500)
        }
      }
      await sleep(options.settleMs)
      for (const record of records) {
        const instance = instances.get(record.id)
        if (!record.available || instance === undefined) continue
        for (const [name, reading] of Object.entries(await readMemory(instance))) {
          (record.rssAfterRoundBytes[name] ??= []).push(reading.rssBytes)
          if (reading.heapUsedBytes !== undefined) (record.heapUsedAfterRoundBytes[name] ??= []).push(reading.heapUsedBytes)
        }
      }
    }
  } finally {
    await Promise.all([...instances.values()].map(async (instance) => await instance.stop()))
  }
  return { paths: records, runs, loadAverage: { start: loadStart, end: loadavg() } }
}
