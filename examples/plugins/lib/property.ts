// A property by dotted name, '' when the host has none. (The SDK's get_property treats NotFound
// as fatal and aborts the VM; a property that is not known yet is normal, e.g. the callee's
// identity before the response.)
// @ts-ignore: decorator
@external('env', 'proxy_get_property')
declare function proxy_get_property (pathPtr: usize, pathSize: usize, valuePtrPtr: usize, valueSizePtr: usize): u32

export function propertyOrEmpty (name: string): string {
  const path = String.UTF8.encode(name.split('.').join('\0'))
  const out = new Uint32Array(2) // value pointer, value size
  const base = out.dataStart
  if (proxy_get_property(changetype<usize>(path), path.byteLength, base, base + 4) != 0 || out[1] == 0) return ''
  return String.UTF8.decode(changetype<ArrayBuffer>(<usize>out[0]))
}
