/**
 * The main thread's handle on one plugin VM in its worker thread (vm-worker.ts). Calls go one at
 * a time, in order, each with a time budget: a call that traps or runs past its budget fails with
 * E_PLUGIN, and a VM stuck in a call is terminated and started again in a new worker. After
 * `maxTraps` failures the plugin is disabled (logged, counted) and every call fails at once.
 *
 * Why a worker and messages: a VM looping forever cannot be interrupted from its own thread;
 * terminating a worker can. Why one call in flight: the budget then measures the call itself,
 * not its wait behind others. The cost is a message each way per callback (see bench/).
 */
import { Worker } from 'node:worker_threads'
import type { Logger } from 'pino'
import { MeshError } from '../errors.js'
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
  resolve: (result: VmResult) => void
  reject: (err: MeshError) => void
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
  #inflight: Pending | undefined
  #timer: NodeJS.Timeout | undefined
  #seq = 0
  #contextId = 1
  #closed = false

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
  async call (request: CallRequest): Promise<VmResult> {
    if (this.disabled || this.#closed) throw new MeshError('E_PLUGIN', `plugin "${this.name}" is disabled`)
    return await new Promise<VmResult>((resolve, reject) => {
      this.#queue.push({ msg: { ...request, type: 'call', seq: ++this.#seq }, resolve, reject })
      this.#pump()
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
    }
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

  #pump (): void {
    if (this.#inflight !== undefined || !this.#ready || this.#worker === undefined) return
    const next = this.#queue.shift()
    if (next === undefined) return
    this.#inflight = next
    this.#timer = setTimeout(() => { this.#onTimeout() }, this.#options.callTimeoutMs)
    this.#worker.postMessage(next.msg)
  }

  #onMessage (worker: Worker, msg: WorkerMessage): void {
    if (worker !== this.#worker) return
    this.#logs(msg)
    if (msg.type === 'trap') {
      this.#failure('trap', msg.message)
      if (msg.seq !== 0) this.#settle(msg.seq, new MeshError('E_PLUGIN', `plugin "${this.name}" trapped: ${msg.message}`))
      return
    }
    if (msg.type !== 'result') return
    for (const [key, value, cas] of msg.shared ?? []) this.#shared.set(key, [value, cas])
    this.#settle(msg.seq, msg)
  }

  #settle (seq: number, outcome: VmResult | MeshError): void {
    const pending = this.#inflight
    if (pending === undefined || pending.msg.seq !== seq) return
    clearTimeout(this.#timer)
    this.#inflight = undefined
    if (outcome instanceof MeshError) pending.reject(outcome)
    else pending.resolve(outcome)
    this.#pump()
  }

  #onTimeout (): void {
    const pending = this.#inflight
    if (pending === undefined) return
    const message = `${pending.msg.op} ran past its budget of ${this.#options.callTimeoutMs} ms`
    this.#inflight = undefined
    pending.reject(new MeshError('E_PLUGIN', `plugin "${this.name}": ${message}`))
    this.#replaceWorker()
    this.#failure('timeout', message)
  }

  #onCrash (worker: Worker, err: Error): void {
    if (worker !== this.#worker || this.#closed) return
    const pending = this.#inflight
    this.#inflight = undefined
    clearTimeout(this.#timer)
    pending?.reject(new MeshError('E_PLUGIN', `plugin "${this.name}": ${err.message}`))
    this.#replaceWorker()
    this.#failure('trap', err.message)
  }

  /** The stuck or dead worker goes; a new one starts (unless the plugin is disabled by now). */
  #replaceWorker (): void {
    const old = this.#worker
    this.#worker = undefined
    this.#ready = false
    old?.terminate().catch(() => {})
    this.generation++
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
    clearTimeout(this.#timer)
    const pending = this.#inflight
    this.#inflight = undefined
    pending?.reject(err)
    for (const p of this.#queue.splice(0)) p.reject(err)
  }

  #logs (msg: WorkerMessage): void {
    const { logger } = this.#options
    for (const entry of msg.logs) logger[entry.level]({ plugin: this.name }, entry.message)
  }
}
