/**
 * The messages between a plugin VM's worker thread and the main thread: one call in, one result
 * out, in order. Everything here is structured-clone data (WebAssembly.Module included).
 */
import type { PluginLogLevel } from './abi.js'
import type { HeaderPairs } from './header-pairs.js'

/** Properties a plugin may read, by dotted path (`request.path`, `source.principal`). */
export type PropertyMap = Record<string, string>

export interface VmInit {
  type: 'init'
  module: WebAssembly.Module
  /** The plugin's name: its root id (`plugin_root_id`) and `plugin_name`. */
  name: string
  /** Bytes handed to `proxy_on_configure` (the YAML `config`, as text or JSON). */
  configuration: Uint8Array
  maxPages: number
  /** Lowest ABI log level (0 trace .. 5 critical) worth sending back; lower ones are dropped in the VM's thread. */
  logLevel: number
  /** Shared data carried over from the VM's previous worker (a restart keeps it). */
  shared: Array<[string, Uint8Array, number]>
  /** Int32 [0]: seq of the call running (0 none, -1 a tick); Float64 [1]: since (Date.now(), ms). */
  watch: SharedArrayBuffer
}

export type StreamOp = 'requestHeaders' | 'requestBody' | 'responseHeaders' | 'responseBody' | 'close'

/** One callback for one stream context (the worker creates the context on first use). */
export interface VmCall {
  type: 'call'
  seq: number
  op: StreamOp
  contextId: number
  /** Sent with a context's first call, and again after the VM was restarted. */
  open?: { properties: PropertyMap, requestHeaders?: HeaderPairs }
  /** The map of this phase (`*Headers` ops). */
  headers?: HeaderPairs
  /** The body chunk of this phase (`*Body` ops); the worker prepends what the plugin held back. */
  body?: Uint8Array
  endOfStream?: boolean
  /** Properties that became known since the open (`response.code`). */
  properties?: PropertyMap
}

export interface LocalResponse {
  status: number
  details: string
  body: Uint8Array
  headers: HeaderPairs
}

export interface VmLog { level: PluginLogLevel, message: string }

export interface VmResult {
  type: 'result'
  seq: number
  /** The callback's return (0 continue, else hold back). */
  action: number
  /** The phase's map when the plugin changed it. */
  headers?: HeaderPairs
  /** Body ops: the bytes to pass on now (absent when held back). */
  body?: Uint8Array
  /** Body ops: the plugin held the bytes back; the worker keeps them for its next call. */
  held?: boolean
  local?: LocalResponse
  logs: VmLog[]
  shared?: Array<[string, Uint8Array, number]>
}

/** The VM trapped (or a host check failed fatally); the worker has already made a fresh instance. */
export interface VmTrap {
  type: 'trap'
  /** The call that trapped; 0 for a tick. */
  seq: number
  message: string
  logs: VmLog[]
}

export interface VmReady { type: 'ready', logs: VmLog[] }
export interface VmFailed { type: 'failed', message: string, logs: VmLog[] }

export type WorkerMessage = VmResult | VmTrap | VmReady | VmFailed
/** The calls of one main-thread turn, sent as one message (one wake-up of the worker, not one each). */
export interface VmCalls {
  type: 'calls'
  calls: VmCall[]
  /** The logger's level now, as the ABI's number (`PUT /log-level` reaches the plugins). */
  logLevel: number
}

export type MainMessage = VmInit | VmCalls
