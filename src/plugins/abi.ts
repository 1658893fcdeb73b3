/**
 * Numbers of the Proxy-Wasm ABI v0.2.1 (the ABI Envoy's SDKs target; v0.2.0 modules load too):
 * status codes, map and buffer types, the actions a plugin returns, log levels.
 */

/** `proxy_status_t`: what every host call returns. */
export const Status = {
  Ok: 0,
  NotFound: 1,
  BadArgument: 2,
  SerializationFailure: 3,
  ParseFailure: 4,
  InvalidMemoryAccess: 6,
  Empty: 7,
  CasMismatch: 8,
  InternalFailure: 10,
  Unimplemented: 12,
} as const

/** `proxy_map_type_t`. */
export const MapType = {
  RequestHeaders: 0,
  RequestTrailers: 1,
  ResponseHeaders: 2,
  ResponseTrailers: 3,
} as const

/** `proxy_buffer_type_t`. */
export const BufferType = {
  RequestBody: 0,
  ResponseBody: 1,
  DownstreamData: 2,
  UpstreamData: 3,
  HttpCallResponseBody: 4,
  GrpcReceiveBuffer: 5,
  VmConfiguration: 6,
  PluginConfiguration: 7,
} as const

/**
 * What `proxy_on_*_headers` and `proxy_on_*_body` return: 0 goes on; anything else holds the
 * data back (the body callbacks' "stop and buffer": the next call sees the buffer grown).
 */
export const Action = { Continue: 0, Pause: 1 } as const

/** `proxy_log_level_t`, 0..5, mapped onto pino's levels. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const
export type PluginLogLevel = typeof LOG_LEVELS[number]

/** The ABI version exports meshgate accepts (a module must export one of them). */
export const ABI_VERSION_EXPORTS = ['proxy_abi_version_0_2_1', 'proxy_abi_version_0_2_0'] as const

/** Bytes of one WebAssembly page. */
export const WASM_PAGE = 65_536
