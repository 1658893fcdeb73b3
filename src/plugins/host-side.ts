/**
 * What the host calls need from the VM around them (vm-instance.ts provides it): the memory,
 * the context the running callback is for, and the VM-wide state.
 */
import type { PluginLogLevel } from './abi.js'
import type { GuestMemory } from './guest-memory.js'
import type { SharedData } from './shared-data.js'
import type { StreamState } from './stream-state.js'

export interface HostSide {
  memory: () => GuestMemory
  /** The context of the running callback (the root's state outside stream callbacks). */
  current: () => StreamState
  /** `proxy_set_effective_context`: false when no such context. */
  select: (contextId: number) => boolean
  /** Only the root context may set a tick period. */
  isRoot: () => boolean
  readonly configuration: Uint8Array
  readonly pluginName: string
  /** The ABI log level below which `proxy_log` is dropped (and `proxy_get_log_level` answers). */
  logLevel: () => number
  readonly shared: SharedData
  log: (level: PluginLogLevel, message: string) => void
  setTickPeriod: (ms: number) => void
}
