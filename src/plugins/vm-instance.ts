/**
 * One plugin VM: the module instantiated with the host's imports only, its root context started
 * and configured, and the stream callbacks run on request. A trap makes a fresh instance from the
 * same module (the failed call is reported, every other stream goes on). Runs inside the VM's
 * worker thread (vm-worker.ts), but knows nothing of threads.
 */
import { Action, MapType, BufferType, WASM_PAGE, type PluginLogLevel } from './abi.js'
import { BadPointer, GuestMemory } from './guest-memory.js'
import { httpImports } from './host-http.js'
import type { HostSide } from './host-side.js'
import { systemImports } from './host-system.js'
import { SharedData } from './shared-data.js'
import { StreamState } from './stream-state.js'
import type { VmCall, VmInit, VmLog, VmResult } from './vm-protocol.js'
import { WASI_MODULES, wasiStub } from './wasi-stubs.js'
import { Status } from './abi.js'

/** The root context's id; stream contexts count up from 2 (the main thread numbers them). */
export const ROOT_CONTEXT_ID = 1

type Exports = Record<string, WebAssembly.ExportValue>
type ExportFn = (...args: number[]) => number | undefined

export interface VmEvents {
  /** The root context asked for a tick period (0: none). */
  tickPeriod: (ms: number) => void
}

export class VmInstance {
  readonly #setup: VmInit
  readonly #events: VmEvents
  readonly #streams = new Map<number, StreamState>()
  /** Contexts created in the current instance (a fresh one knows none). */
  readonly #known = new Set<number>()
  readonly #root: StreamState = new StreamState(ROOT_CONTEXT_ID, {})
  readonly shared: SharedData
  logs: VmLog[] = []
  /** The ABI log level the main thread's logger has now (it can change at run time). */
  logLevel: number
  #exports: Exports = {}
  #memory: GuestMemory | undefined
  #current: StreamState = this.#root

  constructor (setup: VmInit, events: VmEvents) {
    this.#setup = setup
    this.#events = events
    this.shared = new SharedData(setup.shared)
    this.logLevel = setup.logLevel
  }

  /** Instantiates and starts the root context; throws when the plugin fails or refuses its config. */
  start (): void {
    this.#known.clear()
    this.#current = this.#root
    const instance = new WebAssembly.Instance(this.#setup.module, this.#imports())
    this.#exports = instance.exports
    const memory = this.#exports.memory
    if (!(memory instanceof WebAssembly.Memory)) throw new Error('the module exports no memory')
    const allocate = (this.#exports.proxy_on_memory_allocate ?? this.#exports.malloc) as ExportFn | undefined
    if (typeof allocate !== 'function') throw new Error('the module exports neither proxy_on_memory_allocate nor malloc')
    this.#memory = new GuestMemory(memory, (size) => allocate(size) ?? 0)
    const init = (this.#exports._initialize ?? this.#exports._start) as ExportFn | undefined
    if (typeof init === 'function') init()
    this.#fn('proxy_on_context_create')?.(ROOT_CONTEXT_ID, 0)
    this.#fn('proxy_on_vm_start')?.(ROOT_CONTEXT_ID, 0)
    const configure = this.#fn('proxy_on_configure')
    if (configure !== undefined && configure(ROOT_CONTEXT_ID, this.#setup.configuration.length) === 0) {
      throw new Error('the plugin rejected its configuration (proxy_on_configure returned false)')
    }
  }

  /** Runs one stream callback; throws on a trap, after making a fresh instance. */
  call (msg: VmCall): VmResult {
    const stream = this.#stream(msg)
    try {
      return this.#run(stream, msg)
    } catch (err) {
      this.#streams.delete(msg.contextId)
      this.#recover()
      throw err
    } finally {
      this.#current = this.#root
    }
  }

  /** The tick timer fired; throws on a trap, after making a fresh instance. */
  tick (): void {
    try {
      this.#fn('proxy_on_tick')?.(ROOT_CONTEXT_ID)
    } catch (err) {
      this.#recover()
      throw err
    }
  }

  takeLogs (): VmLog[] {
    const logs = this.logs
    this.logs = []
    return logs
  }

  #recover (): void {
    this.#events.tickPeriod(0)
    try {
      this.start()
    } catch (err) {
      this.logs.push({ level: 'error', message: `restarting the VM failed: ${(err as Error).message}` })
    }
  }

  #stream (msg: VmCall): StreamState {
    let stream = this.#streams.get(msg.contextId)
    if (stream === undefined) {
      stream = new StreamState(msg.contextId, { ...msg.open?.properties })
      if (msg.open?.requestHeaders !== undefined) stream.maps[MapType.RequestHeaders] = msg.open.requestHeaders
      this.#streams.set(msg.contextId, stream)
    }
    if (msg.properties !== undefined) Object.assign(stream.properties, msg.properties)
    return stream
  }

  #run (stream: StreamState, msg: VmCall): VmResult {
    const id = msg.contextId
    if (!this.#known.has(id)) {
      this.#known.add(id)
      this.#fn('proxy_on_context_create')?.(id, ROOT_CONTEXT_ID)
    }
    stream.beginPhase()
    stream.endOfStream = msg.endOfStream ?? false
    this.#current = stream
    const eos = stream.endOfStream ? 1 : 0
    let action = 0
    let changedMap = -1
    let passOn: Uint8Array | undefined
    let heldBack = false
    switch (msg.op) {
      case 'requestHeaders':
      case 'responseHeaders': {
        const type = msg.op === 'requestHeaders' ? MapType.RequestHeaders : MapType.ResponseHeaders
        const headers = msg.headers ?? []
        stream.maps[type] = headers
        action = this.#fn(msg.op === 'requestHeaders' ? 'proxy_on_request_headers' : 'proxy_on_response_headers')?.(id, headers.length, eos) ?? 0
        changedMap = type
        break
      }
      case 'requestBody':
      case 'responseBody': {
        const type = msg.op === 'requestBody' ? BufferType.RequestBody : BufferType.ResponseBody
        const chunk = msg.body ?? new Uint8Array(0)
        const held = stream.held[type] ?? new Uint8Array(0)
        const body = held.length === 0 ? chunk : Buffer.concat([held, chunk])
        // A plugin cannot read more than its memory holds; holding more is refused for this request.
        if (body.length > this.#setup.maxPages * WASM_PAGE) throw new Error(`the plugin held back more body than its memory limit (${body.length} bytes)`)
        stream.buffers[type] = body
        action = this.#fn(msg.op === 'requestBody' ? 'proxy_on_request_body' : 'proxy_on_response_body')?.(id, body.length, eos) ?? 0
        const output = stream.bufferChanged[type] === true ? (stream.buffers[type] ?? body) : body
        if (action !== Action.Continue && !stream.endOfStream) {
          stream.held[type] = output
          heldBack = true
        } else {
          stream.held[type] = new Uint8Array(0)
          passOn = output
        }
        break
      }
      case 'close':
        this.#fn('proxy_on_done')?.(id)
        this.#fn('proxy_on_log')?.(id)
        this.#fn('proxy_on_delete')?.(id)
        this.#streams.delete(id)
        this.#known.delete(id)
        break
    }
    const result: VmResult = { type: 'result', seq: msg.seq, action: action >>> 0, logs: this.takeLogs() }
    if (changedMap >= 0 && stream.mapChanged[changedMap] === true) result.headers = stream.maps[changedMap]
    if (passOn !== undefined) result.body = passOn
    if (heldBack) result.held = true
    if (stream.local !== undefined) result.local = stream.local
    stream.local = undefined
    const shared = this.shared.take()
    if (shared !== undefined) result.shared = shared
    return result
  }

  #fn (name: string): ExportFn | undefined {
    const fn = this.#exports[name]
    return typeof fn === 'function' ? fn as ExportFn : undefined
  }

  /** Only what the module imports, from the ABI and the WASI stubs; anything else fails the load. */
  #imports (): WebAssembly.Imports {
    const host = this.#hostSide()
    const env: Record<string, (...args: number[]) => number> = {
      ...guarded(httpImports(host)),
      ...guarded(systemImports(host)),
      // AssemblyScript's own abort (a module built without the SDK's `--use abort=`): a trap.
      abort: () => { throw new Error('the plugin aborted') },
    }
    const imports: Record<string, Record<string, WebAssembly.ImportValue>> = {}
    for (const entry of WebAssembly.Module.imports(this.#setup.module)) {
      const table = (imports[entry.module] ??= {})
      if (entry.kind === 'memory') {
        table[entry.name] = new WebAssembly.Memory({ initial: 1, maximum: this.#setup.maxPages })
      } else if (entry.kind === 'function' && entry.module === 'env' && env[entry.name] !== undefined) {
        table[entry.name] = env[entry.name] as (...args: number[]) => number
      } else if (entry.kind === 'function' && WASI_MODULES.has(entry.module)) {
        table[entry.name] = wasiStub(entry.name, () => host.memory())
      } else {
        throw new Error(`the plugin imports ${entry.module}.${entry.name} (${entry.kind}), which meshgate does not provide`)
      }
    }
    return imports
  }

  #hostSide (): HostSide {
    return {
      memory: () => {
        if (this.#memory === undefined) throw new BadPointer('the VM has no memory yet')
        return this.#memory
      },
      current: () => this.#current,
      select: (contextId) => {
        const stream = contextId === ROOT_CONTEXT_ID ? this.#root : this.#streams.get(contextId)
        if (stream === undefined) return false
        this.#current = stream
        return true
      },
      isRoot: () => this.#current === this.#root,
      configuration: this.#setup.configuration,
      pluginName: this.#setup.name,
      logLevel: () => this.logLevel,
      shared: this.shared,
      log: (level: PluginLogLevel, message: string) => { this.logs.push({ level, message: message.slice(0, 4096) }) },
      setTickPeriod: (ms) => this.#events.tickPeriod(ms),
    }
  }
}

/** A bad pointer or a malformed map from the plugin is its status, not a host exception. */
function guarded (table: Record<string, (...args: number[]) => number>): Record<string, (...args: number[]) => number> {
  const out: Record<string, (...args: number[]) => number> = {}
  for (const [name, fn] of Object.entries(table)) {
    out[name] = (...args: number[]) => {
      try {
        return fn(...args)
      } catch (err) {
        if (err instanceof BadPointer) return Status.InvalidMemoryAccess
        if (err instanceof RangeError && err.message.startsWith('header map')) return Status.ParseFailure
        throw err
      }
    }
  }
  return out
}
