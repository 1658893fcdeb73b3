// A counter in the host's shared data, with compare-and-swap (the SDK's own set_shared_data
// passes its out-pointers as the value, so the plugins call the ABI directly).
// @ts-ignore: decorator
@external('env', 'proxy_get_shared_data')
declare function proxy_get_shared_data (keyPtr: usize, keySize: usize, valuePtrPtr: usize, valueSizePtr: usize, casPtr: usize): u32
// @ts-ignore: decorator
@external('env', 'proxy_set_shared_data')
declare function proxy_set_shared_data (keyPtr: usize, keySize: usize, valuePtr: usize, valueSize: usize, cas: u32): u32

/** Adds one to the counter under `key` and returns its new value. */
export function incrementShared (key: string): u32 {
  const name = String.UTF8.encode(key)
  const out = new Uint32Array(3) // value pointer, value size, cas
  const base = out.dataStart
  for (let attempt = 0; attempt < 8; attempt++) {
    let count: u32 = 0
    let cas: u32 = 0
    if (proxy_get_shared_data(changetype<usize>(name), name.byteLength, base, base + 4, base + 8) == 0) {
      const size = out[1]
      const text = String.UTF8.decode(changetype<ArrayBuffer>(<usize>out[0]))
      if (size > 0) count = <u32>parseInt(text)
      cas = out[2]
    }
    const next = String.UTF8.encode((count + 1).toString())
    if (proxy_set_shared_data(changetype<usize>(name), name.byteLength, changetype<usize>(next), next.byteLength, cas) == 0) return count + 1
  }
  return 0
}
