// The plugin configuration as text. The SDK's own RootContext.onConfigure passes the size where the
// ABI wants a pointer to it (proxy_get_buffer_bytes' last argument), so the plugins read it here.
import { get_buffer_bytes, BufferTypeValues } from '@solo-io/proxy-runtime/runtime'

export function pluginConfiguration (size: u32): string {
  if (size == 0) return ''
  return String.UTF8.decode(get_buffer_bytes(BufferTypeValues.PluginConfiguration, 0, size))
}
