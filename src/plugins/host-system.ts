/**
 * The non-HTTP host calls: properties, logging, time, the tick timer, shared data, and the
 * ABI's remaining functions, answered `Unimplemented` (HTTP and gRPC callouts, queues, metrics,
 * foreign functions) so that a plugin sees a status instead of failing to load.
 */
import { LOG_LEVELS, Status } from './abi.js'
import type { HostSide } from './host-side.js'

type HostFn = (...args: number[]) => number

const UNIMPLEMENTED = [
  'proxy_http_call', 'proxy_grpc_call', 'proxy_grpc_stream', 'proxy_grpc_send', 'proxy_grpc_cancel', 'proxy_grpc_close',
  'proxy_register_shared_queue', 'proxy_resolve_shared_queue', 'proxy_dequeue_shared_queue', 'proxy_enqueue_shared_queue',
  'proxy_define_metric', 'proxy_increment_metric', 'proxy_record_metric', 'proxy_get_metric',
  'proxy_call_foreign_function', 'proxy_set_header_map_value',
]

/** `request\0path` (the ABI's separator) and `request.path` name the same property. */
function propertyKey (path: string): string {
  return path.replace(/\0/g, '.')
}

export function systemImports (host: HostSide): Record<string, HostFn> {
  const mem = (): ReturnType<HostSide['memory']> => host.memory()
  const fixed: Record<string, string> = { plugin_name: host.pluginName, plugin_root_id: host.pluginName, plugin_vm_id: host.pluginName }
  const imports: Record<string, HostFn> = {
    proxy_log: (level = 0, ptr = 0, size = 0) => {
      if (level < host.logLevel()) return Status.Ok
      host.log(LOG_LEVELS[Math.min(level, LOG_LEVELS.length - 1)] ?? 'info', mem().readString(ptr, size))
      return Status.Ok
    },
    proxy_get_log_level: (ptr = 0) => {
      mem().writeU32(ptr, host.logLevel())
      return Status.Ok
    },
    proxy_get_current_time_nanoseconds: (ptr = 0) => {
      mem().writeU64(ptr, BigInt(Date.now()) * 1_000_000n)
      return Status.Ok
    },
    proxy_set_tick_period_milliseconds: (ms = 0) => {
      if (!host.isRoot()) return Status.BadArgument
      host.setTickPeriod(ms)
      return Status.Ok
    },
    proxy_get_property: (pathPtr = 0, pathSize = 0, valuePtrPtr = 0, valueSizePtr = 0) => {
      const key = propertyKey(mem().readString(pathPtr, pathSize))
      const value = fixed[key] ?? host.current().properties[key]
      if (value === undefined) return Status.NotFound
      mem().give(Buffer.from(value, 'utf8'), valuePtrPtr, valueSizePtr)
      return Status.Ok
    },
    proxy_set_property: (pathPtr = 0, pathSize = 0, valuePtr = 0, valueSize = 0) => {
      const key = propertyKey(mem().readString(pathPtr, pathSize))
      if (key in fixed) return Status.BadArgument
      host.current().properties[key] = mem().readString(valuePtr, valueSize)
      return Status.Ok
    },
    proxy_get_shared_data: (keyPtr = 0, keySize = 0, valuePtrPtr = 0, valueSizePtr = 0, casPtr = 0) => {
      const entry = host.shared.get(mem().readString(keyPtr, keySize))
      if (entry === undefined) return Status.NotFound
      mem().give(entry.value, valuePtrPtr, valueSizePtr)
      mem().writeU32(casPtr, entry.cas)
      return Status.Ok
    },
    proxy_set_shared_data: (keyPtr = 0, keySize = 0, valuePtr = 0, valueSize = 0, cas = 0) => {
      const ok = host.shared.set(mem().readString(keyPtr, keySize), mem().read(valuePtr, valueSize), cas)
      return ok ? Status.Ok : Status.CasMismatch
    },
    proxy_set_effective_context: (contextId = 0) => host.select(contextId) ? Status.Ok : Status.BadArgument,
    proxy_get_status: (codePtr = 0, messagePtrPtr = 0, messageSizePtr = 0) => {
      mem().writeU32(codePtr, 0)
      mem().give(new Uint8Array(0), messagePtrPtr, messageSizePtr)
      return Status.Ok
    },
    // Streams are not held back by the host (see plugin-stream.ts): continuing is always fine.
    proxy_continue_stream: () => Status.Ok,
    proxy_close_stream: () => Status.Unimplemented,
    proxy_clear_route_cache: () => Status.Ok,
    proxy_done: () => Status.Ok,
  }
  for (const name of UNIMPLEMENTED) imports[name] = () => Status.Unimplemented
  return imports
}
