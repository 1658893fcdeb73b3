#!/usr/bin/env node
// Builds Proxy-Wasm plugins written in AssemblyScript with the SDK from npm
// (@solo-io/proxy-runtime): every .ts file directly in each source directory (default:
// examples/plugins) becomes OUT/<name>.wasm (default: dist/plugins). A plugin whose .wasm is
// newer than its source, the shared lib/ and the SDK is not built again.
//   node examples/plugins/build.mjs [--out DIR] [SOURCE_DIR...]
import { createRequire } from 'node:module'
import { mkdirSync, readdirSync, statSync } from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const require = createRequire(import.meta.url)

function newest (paths) {
  let t = 0
  for (const p of paths) {
    let s
    try { s = statSync(p) } catch { continue }
    if (s.isDirectory()) t = Math.max(t, newest(readdirSync(p).map((f) => join(p, f))))
    else t = Math.max(t, s.mtimeMs)
  }
  return t
}

function ageOf (file) {
  try { return statSync(file).mtimeMs } catch { return 0 }
}

/** Builds the plugins of `sources` into `out`; resolves to the .wasm paths, built or up to date. */
export async function buildPlugins ({ sources = [join(ROOT, 'examples', 'plugins')], out = join(ROOT, 'dist', 'plugins'), log = console.log } = {}) {
  const asc = require('assemblyscript/cli/asc')
  await asc.ready
  mkdirSync(out, { recursive: true })
  const sdk = join(ROOT, 'node_modules', '@solo-io', 'proxy-runtime', 'assembly')
  const built = []
  for (const dir of sources) {
    const shared = [join(dir, 'lib'), join(ROOT, 'examples', 'plugins', 'lib'), sdk]
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts')).sort()) {
      const source = join(dir, file)
      const target = join(out, `${basename(file, '.ts')}.wasm`)
      built.push(target)
      if (ageOf(target) > newest([source, ...shared])) continue
      const started = Date.now()
      let errors = ''
      const code = await new Promise((resolve) => {
        asc.main([source, '--binaryFile', target, '--use', 'abort=abort_proc_exit', '--runtime', 'full', '--baseDir', ROOT], {
          stdout: { write: () => true },
          stderr: { write: (text) => { errors += String(text); return true } },
        }, (err) => { resolve(err === null ? 0 : err); return 0 })
      })
      if (code !== 0) throw new Error(`building ${source} failed:\n${errors.split('\n').filter((l) => !/WARNING|~lib/.test(l)).join('\n')}`)
      log(`built ${target} (${Date.now() - started} ms)`)
    }
  }
  return built
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2)
  const at = args.indexOf('--out')
  const out = at >= 0 ? resolve(args[at + 1] ?? '') : undefined
  const sources = args.filter((_, i) => at < 0 || (i !== at && i !== at + 1)).map((s) => resolve(s))
  buildPlugins({ sources: sources.length > 0 ? sources : undefined, out }).catch((err) => {
    console.error(err.message)
    process.exit(1)
  })
}
