/**
 * The Proxy-Wasm plugins tests run: the examples (examples/plugins/) and the failure fixtures
 * (test/plugins/fixtures/), built at test time with AssemblyScript and @solo-io/proxy-runtime by
 * examples/plugins/build.mjs (up-to-date modules are not built again; bounded at 5 minutes).
 */
import { join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

// dist/test/helpers → repository root
const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..')
export const PLUGIN_DIR = join(ROOT, 'dist', 'plugins')

interface BuildModule {
  buildPlugins: (options: { sources: string[], out: string, log: (line: string) => void }) => Promise<string[]>
}

/** Builds every plugin once per process; resolves to the directory holding `<name>.wasm`. */
let building: Promise<string> | undefined
export async function builtPlugins (): Promise<string> {
  building ??= (async () => {
    const script = pathToFileURL(join(ROOT, 'examples', 'plugins', 'build.mjs')).href
    const { buildPlugins } = await import(script) as BuildModule
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new Error('building the plugins took over 5 minutes')), 300_000)
    })
    try {
      await Promise.race([timeout, buildPlugins({
        sources: [join(ROOT, 'examples', 'plugins'), join(ROOT, 'test', 'plugins', 'fixtures')],
        out: PLUGIN_DIR,
        log: () => {},
      })])
    } finally {
      clearTimeout(timer)
    }
    return PLUGIN_DIR
  })()
  return await building
}

/** A `plugins:` entry as YAML flow map. */
export function pluginYaml (name: string, extra = ''): string {
  return `{ name: ${name}, wasm: "${join(PLUGIN_DIR, `${name}.wasm`)}"${extra === '' ? '' : `, ${extra}`} }`
}
