/**
 * Gives memory back once the process goes quiet after a burst (config `memory.releaseWhenIdle`,
 * default on). V8 keeps what a burst grew: semi-spaces at their grown size, and old-generation
 * garbage until its own memory reducer runs tens of seconds later. So after a load test, or after
 * start-up, a sidecar sat on ~10 MB it did not use (bench/README.md, "RSS after load").
 *
 * Every 250 ms this reads the process's CPU time. A sample that used 10 % of a core or more marks a
 * burst; once the process has then used at most 2 % for a whole second, memory is released, once
 * per burst (start-up counts as one): the engine addon's `relieveMemory()` (V8's LowMemoryNotification, then malloc_trim),
 * which blocks the loop ~5–25 ms. Steady traffic is never quiet, so it never pays that; a quiet
 * process pays it once per burst. Without the engine addon there is nothing to call and this is off.
 */
import type { Logger } from 'pino'
import { Counter, type Registry } from './metrics/prom.js'

/** Decides, from CPU samples, when a burst has ended: quiet for `quietForMs` after a busy sample. */
export class BurstEnd {
  #busy: boolean
  #quietMs = 0

  /**
   * `busyShare` and `quietShare`: of one core, 0–1. `busy`: a burst is under way already
   * (start-up).
   */
  constructor (private readonly busyShare = 0.1, private readonly quietShare = 0.02, private readonly quietForMs = 1_000, busy = false) {
    this.#busy = busy
  }

  /** One interval's CPU time; true when it completes the quiet spell after a burst. */
  sample (cpuMs: number, intervalMs: number): boolean {
    const share = cpuMs / intervalMs
    if (share > this.quietShare) {
      this.#quietMs = 0
      if (share >= this.busyShare) this.#busy = true
      return false
    }
    this.#quietMs += intervalMs
    if (!this.#busy || this.#quietMs < this.quietForMs) return false
    this.#busy = false
    return true
  }
}

export interface MemoryReliefOptions {
  /** Releases memory now (the engine addon's relieveMemory). */
  relieve: () => void
  logger: Logger
  /** Where the two counters go; absent: none. */
  registry?: Registry
  /** Sampling interval, ms (default 250). */
  intervalMs?: number
}

export interface MemoryRelief {
  stop: () => void
}

/** The engine addon's relieveMemory, or why there is none here. */
export async function engineRelief (): Promise<{ relieve: () => void } | { reason: string }> {
  try {
    const { loadEngine } = await import('../native/engine.js')
    const engine = loadEngine()
    return { relieve: () => { engine.relieveMemory() } }
  } catch (err) {
    return { reason: err instanceof Error ? err.message.split('\n')[0] ?? err.message : String(err) }
  }
}

/** Starts sampling; the timer is unref'd, so it never keeps the process up. */
export function startMemoryRelief (options: MemoryReliefOptions): MemoryRelief {
  const intervalMs = options.intervalMs ?? 250
  const registers = options.registry === undefined ? [] : [options.registry]
  const count = new Counter({ name: 'meshgate_memory_releases_total', help: 'Times memory was given back after a burst of work ended (memory.releaseWhenIdle).', registers })
  const pause = new Counter({ name: 'meshgate_memory_release_seconds_total', help: 'Event-loop time spent giving memory back after bursts.', registers })
  // Start-up is a burst: its garbage goes in the first quiet second.
  const burst = new BurstEnd(0.1, 0.02, 1_000, true)
  let last = process.cpuUsage()
  const timer = setInterval(() => {
    const now = process.cpuUsage()
    const cpuMs = (now.user - last.user + now.system - last.system) / 1000
    last = now
    if (!burst.sample(cpuMs, intervalMs)) return
    const rssBefore = process.memoryUsage.rss()
    const started = performance.now()
    options.relieve()
    const ms = performance.now() - started
    count.inc()
    pause.inc(ms / 1000)
    options.logger.debug({ ms: Math.round(ms * 10) / 10, rssBeforeMB: Math.round(rssBefore / 1e5) / 10, rssAfterMB: Math.round(process.memoryUsage.rss() / 1e5) / 10 }, 'memory released after a burst')
    // Its own CPU time is not the next burst.
    last = process.cpuUsage()
  }, intervalMs)
  timer.unref()
  return { stop: () => { clearInterval(timer) } }
}
