/**
 * The Proxy-Wasm plugins tests run: the examples (examples/plugins/) and the failure fixtures
 * (test/plugins/fixtures/), built at test time with AssemblyScript and @solo-io/proxy-runtime by
 * examples/plugins/build.mjs (up-to-date modules are not built again; bounded at 5 minutes);
 * and the plain HTTP/1 request the plugin tests send through a pair.
 */
import http from 'node:http'
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

/** What a plugin test's request got back. */
export interface Reply { status: number, headers: http.IncomingHttpHeaders, body: string }

export interface RequestOptions { method?: string, headers?: Record<string, string>, body?: string }

/** One request to 127.0.0.1:`port` (Host web.test) on a fresh connection, bounded at `timeoutMs`. */
export async function requestOnce (port: number, path: string, options: RequestOptions, timeoutMs: number): Promise<Reply> {
  return await new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: { host: 'web.test', ...options.headers }, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
    })
    req.on('error', reject)
    req.setTimeout(timeoutMs, () => req.destroy(new Error('test request timed out')))
    req.end(options.body)
  })
}
