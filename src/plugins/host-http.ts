/**
 * The HTTP host calls of the ABI: header maps (get, get pairs, size, add, replace, remove, set
 * pairs), body buffers (get, status, set) and `proxy_send_local_response`. Header names are
 * matched case-insensitively; several values of one name read back joined with ",".
 */
import { BufferType, Status } from './abi.js'
import { decodePairs, encodePairs, type HeaderPairs } from './header-pairs.js'
import type { HostSide } from './host-side.js'

type HostFn = (...args: number[]) => number

function lower (name: string): string { return name.toLowerCase() }

export function httpImports (host: HostSide): Record<string, HostFn> {
  const mem = (): ReturnType<HostSide['memory']> => host.memory()
  const mapOf = (type: number): HeaderPairs | undefined => host.current().map(type)
  const changed = (type: number, pairs: HeaderPairs): void => host.current().setMap(type, pairs)
  const bytesOf = (type: number): Uint8Array | undefined => {
    if (type === BufferType.PluginConfiguration) return host.configuration
    if (type === BufferType.VmConfiguration) return new Uint8Array(0)
    return host.current().body(type)
  }

  return {
    proxy_get_header_map_value: (type = 0, keyPtr = 0, keySize = 0, valuePtrPtr = 0, valueSizePtr = 0) => {
      const pairs = mapOf(type)
      if (pairs === undefined) return Status.NotFound
      const key = lower(mem().readString(keyPtr, keySize))
      const values = pairs.filter(([k]) => k === key).map(([, v]) => v)
      if (values.length === 0) return Status.NotFound
      mem().give(Buffer.from(values.join(','), 'utf8'), valuePtrPtr, valueSizePtr)
      return Status.Ok
    },
    proxy_get_header_map_pairs: (type = 0, ptrPtr = 0, sizePtr = 0) => {
      const pairs = mapOf(type)
      if (pairs === undefined) return Status.NotFound
      mem().give(encodePairs(pairs), ptrPtr, sizePtr)
      return Status.Ok
    },
    proxy_get_header_map_size: (type = 0, sizePtr = 0) => {
      const pairs = mapOf(type)
      if (pairs === undefined) return Status.NotFound
      mem().writeU32(sizePtr, encodePairs(pairs).length)
      return Status.Ok
    },
    proxy_set_header_map_pairs: (type = 0, ptr = 0, size = 0) => {
      if (mapOf(type) === undefined) return Status.NotFound
      const pairs = decodePairs(mem().read(ptr, size)).map(([k, v]): [string, string] => [lower(k), v])
      changed(type, pairs)
      return Status.Ok
    },
    proxy_add_header_map_value: (type = 0, keyPtr = 0, keySize = 0, valuePtr = 0, valueSize = 0) => {
      const pairs = mapOf(type)
      if (pairs === undefined) return Status.NotFound
      changed(type, [...pairs, [lower(mem().readString(keyPtr, keySize)), mem().readString(valuePtr, valueSize)]])
      return Status.Ok
    },
    proxy_replace_header_map_value: (type = 0, keyPtr = 0, keySize = 0, valuePtr = 0, valueSize = 0) => {
      const pairs = mapOf(type)
      if (pairs === undefined) return Status.NotFound
      const key = lower(mem().readString(keyPtr, keySize))
      const value = mem().readString(valuePtr, valueSize)
      const next: HeaderPairs = []
      let replaced = false
      for (const [k, v] of pairs) {
        if (k !== key) next.push([k, v])
        else if (!replaced) {
          next.push([key, value])
          replaced = true
        }
      }
      if (!replaced) next.push([key, value])
      changed(type, next)
      return Status.Ok
    },
    proxy_remove_header_map_value: (type = 0, keyPtr = 0, keySize = 0) => {
      const pairs = mapOf(type)
      if (pairs === undefined) return Status.NotFound
      const key = lower(mem().readString(keyPtr, keySize))
      changed(type, pairs.filter(([k]) => k !== key))
      return Status.Ok
    },
    proxy_get_buffer_bytes: (type = 0, start = 0, maxSize = 0, ptrPtr = 0, sizePtr = 0) => {
      const bytes = bytesOf(type)
      if (bytes === undefined) return Status.NotFound
      if (start > bytes.length) return Status.BadArgument
      mem().give(bytes.subarray(start, start + maxSize), ptrPtr, sizePtr)
      return Status.Ok
    },
    proxy_get_buffer_status: (type = 0, lengthPtr = 0, flagsPtr = 0) => {
      const bytes = bytesOf(type)
      if (bytes === undefined) return Status.NotFound
      mem().writeU32(lengthPtr, bytes.length)
      mem().writeU32(flagsPtr, host.current().endOfStream ? 1 : 0)
      return Status.Ok
    },
    // start 0, size 0 prepends; start at the end appends; start 0, size ≥ length replaces.
    proxy_set_buffer_bytes: (type = 0, start = 0, size = 0, valuePtr = 0, valueSize = 0) => {
      const state = host.current()
      const bytes = state.body(type)
      if (bytes === undefined) return Status.NotFound
      const from = Math.min(start, bytes.length)
      const to = Math.min(from + size, bytes.length)
      const value = mem().read(valuePtr, valueSize)
      state.setBody(type, Buffer.concat([bytes.subarray(0, from), value, bytes.subarray(to)]))
      return Status.Ok
    },
    proxy_send_local_response: (status = 0, detailsPtr = 0, detailsSize = 0, bodyPtr = 0, bodySize = 0, headersPtr = 0, headersSize = 0) => {
      if (status < 200 || status > 599) return Status.BadArgument
      const headers = decodePairs(mem().read(headersPtr, headersSize)).map(([k, v]): [string, string] => [lower(k), v])
      host.current().local = { status, details: mem().readString(detailsPtr, detailsSize), body: mem().read(bodyPtr, bodySize), headers }
      return Status.Ok
    },
  }
}
