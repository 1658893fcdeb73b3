/**
 * The main thread's handle on one plugin VM in its worker thread (vm-worker.ts). Calls go one at
 * a time, in order, each with a time budget: a call that traps or runs past its budget fails with
 * E_PLUGIN, and a VM stuck in a call is terminated and started again in a new worker. After
 * `maxTraps` failures the plugin is disabled (logged, counted) and every call fails at once.
 *
 * Why a worker and messages: a VM looping forever cannot be interrupted from its own thread;
 * terminating a worker can, and the main thread never waits for a VM. Calls are pipelined (the
 * worker drains what is sent without a round trip each); the budget is the time the worker spends
 * in one call, read by a watchdog timer from memory the worker shares, so waiting behind other
 * calls does not count. The cost is a message each way per callback (see bench/plugin-cost).
 */
import { Worker } from 'node:worker_threads'
import type { Logger } from 'pino'
import { MeshError } from '../../core/errors.js'
import { LOG_LEVELS } from './abi.js'
import type { PluginObserver } from './observer.js'
import type { VmCall, VmInit, VmResult, WorkerMessage } from './vm-protocol.js'

export interface PluginVmOptions {
  name: string
  module: WebAssembly.Module
  configuration: Uint8Array
  maxPages: number
  /** Budget of one callback, ms. */
  callTimeoutMs: number
  /** Budget of a VM's start (instantiation, `proxy_on_vm_start`, `proxy_on_configure`), ms. */
  startTimeoutMs: number
  /** Traps and timeouts before the plugin is disabled. */
  maxTraps: number
  logger: Logger
  observer: PluginObserver
}

export type CallRequest = Omit<VmCall, 'type' | 'seq'>

interface Pending {
  msg: VmCall
  /** How the call's stream is opened in a new worker, should this one be replaced before it answers. */
  reopen: VmCall['open']
  resolve: (result: VmResult) => void
  reject: (err: MeshError) => void
}

/**
 * Shared with the worker: the seq of the call it is in (0: none, -1: a tick) and since when
 * (Date.now(), ms), so one watchdog timer per VM times every call.
 */
interface Watch {
  buffer: SharedArrayBuffer
  running: Int32Array
  since: Float64Array
}

function newWatch (): Watch {
  const buffer = new SharedArrayBuffer(16)
  return { buffer, running: new Int32Array(buffer, 0, 1), since: new Float64Array(buffer) }
}

/** pino's level name as the ABI's log level (`silent` drops everything). */
function abiLogLevel (level: string): number {
  const at = (LOG_LEVELS as readonly string[]).indexOf(level)
  return at >= 0 ? at : level === 'silent' ? LOG_LEVELS.length : 2
}

const WORKER_URL = new URL('./vm-worker.js', import.meta.url)

export class PluginVm {
  readonly name: string
  /** Bumps when a new worker replaces the old one (its streams must be opened again). */
  generation = 0
  failures = 0
  disabled = false
  readonly #options: PluginVmOptions
  readonly #queue: Pending[] = []
  readonly #shared = new Map<string, [Uint8Array, number]>()
  #worker: Worker | undefined
  #ready = false
  /** Calls the current worker has been sent and not answered, in order. */
  readonly #sent = new Map<number, Pending>()
  readonly #watch = newWatch()
  #watchdog: NodeJS.Timeout | undefined
  #seq = 0
  #contextId = 1
  #closed = false
  #flushing = false
  readonly #flush = (): void => {
    this.#flushing = false
    this.#pump()
  }

  private constructor (options: PluginVmOptions) {
    this.name = options.name
    this.#options = options
  }

  /** Starts the VM; rejects when the plugin fails to start or refuses its configuration. */
  static async start (options: PluginVmOptions): Promise<PluginVm> {
    const vm = new PluginVm(options)
    await vm.#spawn()
    return vm
  }

  /** A context id for a new stream, unique in this VM. */
  nextContextId (): number {
    this.#contextId = this.#contextId >= 0x7fff_fff0 ? 2 : this.#contextId + 1
    return this.#contextId
  }

  /** Runs one callback; rejects with E_PLUGIN on a trap, a timeout, or a disabled plugin. */
  async call (request: CallRequest, reopen?: VmCall['open']): Promise<VmResult> {
    if (this.disabled || this.#closed) throw new MeshError('E_PLUGIN', `plugin "${this.name}" is disabled`)
    return await new Promise<VmResult>((resolve, reject) => {
      this.#seq = this.#seq >= 0x7fff_fff0 ? 1 : this.#seq + 1
      this.#queue.push({ msg: { ...request, type: 'call', seq: this.#seq }, reopen, resolve, reject })
      // The calls of this turn go together, once its synchronous work is done.
      if (!this.#flushing) {
        this.#flushing = true
        queueMicrotask(this.#flush)
      }
    })
  }

  /** Stops the worker; calls waiting fail. Safe to call twice. */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#failAll(new MeshError('E_PLUGIN', `plugin "${this.name}" closed`))
    const worker = this.#worker
    this.#worker = undefined
    await worker?.terminate()
  }

  async #spawn (): Promise<void> {
    const { options } = { options: this.#options }
    const worker = new Worker(WORKER_URL, { resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 16 } })
    this.#worker = worker
    this.#ready = false
    worker.unref()
    const init: VmInit = {
      type: 'init',
      module: options.module,
      name: options.name,
      configuration: options.configuration,
      maxPages: options.maxPages,
      logLevel: abiLogLevel(options.logger.level),
      shared: [...this.#shared].map(([k, [v, cas]]) => [k, v, cas]),
      watch: this.#watch.buffer as SharedArrayBuffer,
    }
    Atomics.store(this.#watch.running, 0, 0)
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { fail(new Error(`the VM did not start within ${options.startTimeoutMs} ms`)) }, options.startTimeoutMs)
      const fail = (err: Error): void => {
        clearTimeout(timer)
        worker.off('message', onFirst)
        worker.terminate().catch(() => {})
        if (this.#worker === worker) this.#worker = undefined
        reject(new MeshError('E_PLUGIN', `plugin "${options.name}": ${err.message}`, { cause: err }))
      }
      const onFirst = (msg: WorkerMessage): void => {
        this.#logs(msg)
        if (msg.type === 'failed') fail(new Error(msg.message))
        if (msg.type !== 'ready') return
        clearTimeout(timer)
        worker.off('message', onFirst)
        worker.off('error', fail)
        worker.on('message', (m: WorkerMessage) => { this.#onMessage(worker, m) })
        worker.on('error', (err) => { this.#onCrash(worker, err) })
        worker.on('exit', (code) => { this.#onCrash(worker, new Error(`the VM's worker exited (${code})`)) })
        this.#ready = true
        resolve()
      }
      worker.on('message', onFirst)
      worker.once('error', fail)
      worker.postMessage(init)
    })
    this.#pump()
  }

  /** Sends every waiting call in one message: the worker runs them in order, and the watchdog times each one. */
  #pump (): void {
    const worker = this.#worker
    if (!this.#ready || worker === undefined) return
    if (this.#queue.length === 0) return
    const batch = this.#queue.splice(0)
    for (const next of batch) this.#sent.set(next.msg.seq, next)
    worker.postMessage({ type: 'calls', calls: batch.map((p) => p.msg), logLevel: abiLogLevel(this.#options.logger.level) })
    if (this.#sent.size > 0 && this.#watchdog === undefined) {
      const every = Math.max(5, Math.min(50, Math.floor(this.#options.callTimeoutMs / 4)))
      this.#watchdog = setInterval(() => { this.#check() }, every)
      this.#watchdog.unref()
    }
  }

  /** The watchdog: a call (or a tick) the worker has been in for longer than the budget. */
  #check (): void {
    if (this.#sent.size === 0) {
      clearInterval(this.#watchdog)
      this.#watchdog = undefined
      return
    }
    const running = Atomics.load(this.#watch.running, 0)
    if (running === 0 || Date.now() - (this.#watch.since[1] ?? 0) <= this.#options.callTimeoutMs) return
    const culprit = running > 0 ? this.#sent.get(running) : undefined
    const message = culprit === undefined
      ? `on_tick ran past its budget of ${this.#options.callTimeoutMs} ms`
      : `${culprit.msg.op} ran past its budget of ${this.#options.callTimeoutMs} ms`
    if (culprit !== undefined) this.#sent.delete(running)
    culprit?.reject(new MeshError('E_PLUGIN', `plugin "${this.name}": ${message}`))
    this.#replaceWorker()
    this.#failure('timeout', message)
  }

  #onMessage (worker: Worker, msg: WorkerMessage): void {
    if (worker !== this.#worker) return
    this.#logs(msg)
    if (msg.type === 'trap') {
      // The call that trapped says so, even when this trap is the one that disables the plugin.
      if (msg.seq !== 0) this.#settle(msg.seq, new MeshError('E_PLUGIN', `plugin "${this.name}" trapped: ${msg.message}`))
      this.#failure('trap', msg.message)
      return
    }
    if (msg.type !== 'result') return
    for (const [key, value, cas] of msg.shared ?? []) this.#shared.set(key, [value, cas])
    this.#settle(msg.seq, msg)
  }

  #settle (seq: number, outcome: VmResult | MeshError): void {
    const pending = this.#sent.get(seq)
    if (pending === undefined) return
    this.#sent.delete(seq)
    if (outcome instanceof MeshError) pending.reject(outcome)
    else pending.resolve(outcome)
  }

  #onCrash (worker: Worker, err: Error): void {
    if (worker !== this.#worker || this.#closed) return
    // The call it was in failed; the ones behind it go to the next worker.
    const running = Atomics.load(this.#watch.running, 0)
    const culprit = this.#sent.get(running) ?? this.#sent.values().next().value
    if (culprit !== undefined) this.#sent.delete(culprit.msg.seq)
    culprit?.reject(new MeshError('E_PLUGIN', `plugin "${this.name}": ${err.message}`))
    this.#replaceWorker()
    this.#failure('trap', err.message)
  }

  /**
   * The stuck or dead worker goes; a new one starts (unless the plugin is disabled by now) and
   * takes the calls the old one had not answered, each with what it needs to open its stream.
   */
  #replaceWorker (): void {
    const old = this.#worker
    this.#worker = undefined
    this.#ready = false
    old?.terminate().catch(() => {})
    this.generation++
    const unanswered = [...this.#sent.values()]
    this.#sent.clear()
    for (const p of unanswered) if (p.reopen !== undefined) p.msg.open = p.reopen
    this.#queue.unshift(...unanswered)
    queueMicrotask(() => {
      if (this.disabled || this.#closed) return
      this.#spawn().catch((err: unknown) => {
        this.#options.logger.error({ plugin: this.name, err: (err as Error).message }, 'plugin VM could not be started again; plugin disabled')
        this.#disable()
      })
    })
  }

  #failure (kind: 'trap' | 'timeout', message: string): void {
    this.failures++
    this.#options.observer.failure?.(this.name, kind)
    this.#options.logger.warn({ plugin: this.name, kind, failures: this.failures, err: message }, 'plugin call failed')
    if (this.failures >= this.#options.maxTraps && !this.disabled) {
      this.#options.logger.error({ plugin: this.name, failures: this.failures }, 'plugin disabled after too many traps')
      this.#disable()
    }
  }

  #disable (): void {
    if (this.disabled) return
    this.disabled = true
    this.#options.observer.disabled?.(this.name)
    this.#failAll(new MeshError('E_PLUGIN', `plugin "${this.name}" is disabled`))
    const worker = this.#worker
    this.#worker = undefined
    worker?.terminate().catch(() => {})
  }

  #failAll (err: MeshError): void {
    clearInterval(this.#watchdog)
    this.#watchdog = undefined
    const sent = [...this.#sent.values()]
    this.#sent.clear()
    for (const p of [...sent, ...this.#queue.splice(0)]) p.reject(err)
  }

  #logs (msg: WorkerMessage): void {
    const { logger } = this.#options
    for (const entry of msg.logs) logger[entry.level]({ plugin: this.name }, entry.message)
  }
}
