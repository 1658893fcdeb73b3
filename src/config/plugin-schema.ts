/**
 * The schema of a `plugins:` list (an outbound listener's, the inbound section's): each entry
 * names a Proxy-Wasm module that must exist and be valid WebAssembly, with its config and limits.
 */
import { readFileSync } from 'node:fs'
import type { PluginConfig } from './types.js'
import { DEFAULTS } from './defaults.js'
import { boolean, duration, fail, filePath, INVALID, integer, isRecord, leaf, list, object, refine, required, size, string, withDefault, type Schema } from './schema.js'

const pluginName = string('a plugin name (its root id: letters, digits, ".", "-", "_")', (v) => /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(v))
const pluginConfig = leaf<string | Record<string, unknown>>('a string or a map', (v) => typeof v === 'string' || isRecord(v) ? v : undefined)
const D = DEFAULTS.plugin

const plugin: Schema<PluginConfig> = refine(object({
  name: required(pluginName),
  wasm: required(filePath('a path to a .wasm file')),
  config: withDefault(pluginConfig, ''),
  callTimeoutMs: withDefault(duration(1, 60_000), D.callTimeoutMs),
  maxMemory: withDefault(size(64 * 1024, 4 * 1024 * 1024 * 1024 - 64 * 1024), D.maxMemory),
  maxTraps: withDefault(integer(1, 1_000_000), D.maxTraps),
  failOpen: withDefault(boolean(), D.failOpen),
}), (p, path, ctx) => {
  let bytes: Buffer
  try {
    bytes = readFileSync(p.wasm)
  } catch (err) {
    return fail(ctx, [...path, 'wasm'], p.wasm, `a readable .wasm file (${(err as NodeJS.ErrnoException).code ?? 'unreadable'}; built by \`npm run build:plugins\`?)`)
  }
  if (!WebAssembly.validate(new Uint8Array(bytes))) return fail(ctx, [...path, 'wasm'], p.wasm, 'a valid WebAssembly module')
  return p
})

/** A list of plugins; names are unique within it. */
export const pluginList: Schema<PluginConfig[]> = refine(list(plugin), (plugins, path, ctx) => {
  const seen = new Map<string, number>()
  let ok = true
  plugins.forEach((p, i) => {
    const first = seen.get(p.name)
    if (first !== undefined) {
      fail(ctx, [...path, i, 'name'], p.name, `a name not already used by ${formatIndex(first)}`)
      ok = false
    }
    seen.set(p.name, i)
  })
  return ok ? plugins : INVALID
})

function formatIndex (i: number): string {
  return `entry [${i}] of this list`
}
