// Replacing a body buffer. The SDK (0.1.8) declares its setter under the wrong import name
// (proxy_get_buffer_status), so the plugins import the ABI's proxy_set_buffer_bytes themselves.
// @ts-ignore: decorator
@external('env', 'proxy_set_buffer_bytes')
declare function proxy_set_buffer_bytes (bufferType: i32, start: u32, length: u32, data: usize, size: usize): u32

export function replaceBuffer (bufferType: i32, length: u32, bytes: ArrayBuffer): u32 {
  return proxy_set_buffer_bytes(bufferType, 0, length, changetype<usize>(bytes), bytes.byteLength)
}
