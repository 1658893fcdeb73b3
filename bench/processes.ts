/**
 * Child processes of the bench: start one, wait for its ports, stop it (always, even when the
 * bench fails), and read its resident memory and CPU time from /proc/PID/status and /proc/PID/stat.
 * A `UsageSampler` polls a set of processes during one scenario to get peak RSS and CPU seconds.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'

/** Clock ticks per second of /proc/PID/stat utime/stime (`getconf CLK_TCK`, 100 on Linux). */
const CLOCK_TICKS_PER_SECOND = 100

/** One reading of a process's memory and CPU. */
export interface ProcessUsage {
  /** Resident set size now, bytes (VmRSS). */
  rssBytes: number
  /**
   * The file-backed part of it, bytes (RssFile): pages of the node binary and the shared
   * libraries, clean and shared through the page cache with every process that maps the same files.
   */
  fileBytes: number
  /** Highest resident set size since the process started, bytes (VmHWM). */
  hwmBytes: number
  /** User + system CPU time used since the process started, seconds. */
  cpuSeconds: number
}

/** What a process used during one scenario. */
export interface ScenarioUsage {
  /** Highest RSS seen while sampling, bytes. */
  peakRssBytes: number
  /** RSS at the end of the scenario, bytes. */
  endRssBytes: number
  /** CPU seconds used between start and stop of sampling. */
  cpuSeconds: number
}

/** Every process started by the bench, so that all of them die when it exits, however it exits. */
const started = new Set<ChildProcess>()

/** Registers a short-lived child (a load tool) so that it is killed too if the bench exits early. */
export function killOnExit (child: ChildProcess): void {
  started.add(child)
  child.once('exit', () => started.delete(child))
}

function killAllNow (): void {
  for (const child of started) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  }
  started.clear()
}

process.on('exit', killAllNow)
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    killAllNow()
    process.exit(130)
  })
}

/** Reads RSS, peak RSS and CPU time of a live process. */
export async function readUsage (pid: number): Promise<ProcessUsage> {
  const [status, stat] = await Promise.all([
    readFile(`/proc/${pid}/status`, 'utf8'),
    readFile(`/proc/${pid}/stat`, 'utf8'),
  ])
  const kib = (field: string): number => {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)
    return match === null ? 0 : Number(match[1]) * 1024
  }
  // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // fields[0] is field 3 (state); utime is field 14, stime field 15.
  const ticks = Number(fields[11]) + Number(fields[12])
  return { rssBytes: kib('VmRSS'), fileBytes: kib('RssFile'), hwmBytes: kib('VmHWM'), cpuSeconds: ticks / CLOCK_TICKS_PER_SECOND }
}

/** True if some socket on this host listens on TCP `port` (read from /proc/net/tcp and tcp6). */
export async function isListening (port: number): Promise<boolean> {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0')
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '')
    for (const line of text.split('\n')) {
      const fields = line.trim().split(/\s+/)
      // fields[1] is local_address `HEXIP:HEXPORT`; fields[3] is the state, 0A = LISTEN.
      if (fields[3] === '0A' && fields[1]?.endsWith(`:${hexPort}`) === true) return true
    }
  }
  return false
}

/**
 * Resolves once something listens on TCP `port`, or rejects after `timeoutMs` or when `isAlive`
 * says the process died. It looks at the kernel's socket table instead of connecting, so that no
 * stray connection reaches a proxy's upstream (iperf3 takes any connection for a test).
 */
export async function waitForPort (port: number, timeoutMs = 10_000, isAlive: () => boolean = () => true): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await isListening(port))) {
    if (!isAlive()) throw new Error(`process exited before port ${port} was listening`)
    if (Date.now() > deadline) throw new Error(`nothing listening on port ${port} after ${timeoutMs} ms`)
    await sleep(50)
  }
}

export interface StartOptions {
  /** Short name for the report and error messages (e.g. `haproxy-client`). */
  name: string
  command: string
  args: string[]
  /** File that receives the process's stdout and stderr. */
  logFile: string
  cwd?: string
  env?: NodeJS.ProcessEnv
  /** Ports that must accept connections before the process counts as started. */
  readyPorts?: number[]
  /** How long to wait for `readyPorts`, ms (default 15 s). */
  readyTimeoutMs?: number
  /** Prometheus endpoint of a Node process, for its JS heap in use (see node-heap.ts). */
  metricsUrl?: string
}

/** A process started by the bench. `stop()` is safe to call twice. */
export class BenchProcess {
  readonly name: string
  readonly metricsUrl: string | undefined
  private readonly child: ChildProcess
  private readonly exited: Promise<void>
  private exitDescription: string | undefined

  private constructor (name: string, child: ChildProcess, metricsUrl: string | undefined) {
    this.name = name
    this.metricsUrl = metricsUrl
    this.child = child
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitDescription = signal === null ? `exit code ${String(code)}` : `signal ${signal}`
        started.delete(child)
        resolve()
      })
    })
  }

  /** Starts the process and waits until its ready ports accept connections. */
  static async start (options: StartOptions): Promise<BenchProcess> {
    const log = createWriteStream(options.logFile, { flags: 'a' })
    const child = spawn(options.command, options.args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    started.add(child)
    // Two sources into one file: neither may end it; it is closed when the process exits.
    child.stdout?.pipe(log, { end: false })
    child.stderr?.pipe(log, { end: false })
    child.once('close', () => log.end())
    const proc = new BenchProcess(options.name, child, options.metricsUrl)
    const spawned = new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve)
      child.once('error', (err) => reject(new Error(`${options.name}: cannot start ${options.command}: ${err.message}`)))
    })
    await spawned
    // Later errors (a failed kill) surface through `alive` and the exit, not as a crash.
    child.on('error', () => {})
    try {
      for (const port of options.readyPorts ?? []) {
        await waitForPort(port, options.readyTimeoutMs ?? 15_000, () => proc.alive)
      }
    } catch (err) {
      await proc.stop()
      throw new Error(`${options.name}: ${(err as Error).message} (${proc.exitDescription ?? 'still running'}; see ${options.logFile})`)
    }
    return proc
  }

  get pid (): number {
    if (this.child.pid === undefined) throw new Error(`${this.name} has no pid`)
    return this.child.pid
  }

  get alive (): boolean {
    return this.child.exitCode === null && this.child.signalCode === null
  }

  async usage (): Promise<ProcessUsage> {
    if (!this.alive) throw new Error(`${this.name} is not running (${this.exitDescription ?? 'exited'})`)
    return await readUsage(this.pid)
  }

  /** SIGTERM, then SIGKILL if the process has not exited after `graceMs` (default 3 s). */
  async stop (graceMs = 3_000): Promise<void> {
    if (!this.alive) return
    this.child.kill('SIGTERM')
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs)
    await this.exited
    clearTimeout(timer)
  }
}

/**
 * Samples processes every `intervalMs` (default 100 ms) between `start()` and `stop()`: the peak
 * RSS seen and the CPU seconds used in between.
 */
export class UsageSampler {
  private readonly processes: readonly BenchProcess[]
  private readonly intervalMs: number
  private readonly first = new Map<string, ProcessUsage>()
  private readonly peak = new Map<string, number>()
  private timer: NodeJS.Timeout | undefined
  private pending: Promise<void> = Promise.resolve()

  constructor (processes: readonly BenchProcess[], intervalMs = 100) {
    this.processes = processes
    this.intervalMs = intervalMs
  }

  async start (): Promise<void> {
    for (const proc of this.processes) {
      const usage = await proc.usage()
      this.first.set(proc.name, usage)
      this.peak.set(proc.name, usage.rssBytes)
    }
    this.timer = setInterval(() => { this.pending = this.sample() }, this.intervalMs)
  }

  private async sample (): Promise<void> {
    for (const proc of this.processes) {
      if (!proc.alive) continue
      const usage = await proc.usage().catch(() => undefined)
      if (usage !== undefined) this.peak.set(proc.name, Math.max(this.peak.get(proc.name) ?? 0, usage.rssBytes))
    }
  }

  /** Stops sampling; the usage of each process by name. */
  async stop (): Promise<Record<string, ScenarioUsage>> {
    clearInterval(this.timer)
    await this.pending
    const result: Record<string, ScenarioUsage> = {}
    for (const proc of this.processes) {
      const first = this.first.get(proc.name)
      if (first === undefined) continue
      const last = await proc.usage()
      result[proc.name] = {
        peakRssBytes: Math.max(this.peak.get(proc.name) ?? 0, last.rssBytes),
        endRssBytes: last.rssBytes,
        cpuSeconds: last.cpuSeconds - first.cpuSeconds,
      }
    }
    return result
  }
}
