/** The installed package's root directory and version, read once from meshgate's package.json. */
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The nearest directory above this file holding meshgate's package.json. */
function packageRoot (): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  for (;;) {
    const manifest = join(dir, 'package.json')
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string }).name === 'meshgate') return dir
    const parent = dirname(dir)
    if (parent === dir) throw new Error('meshgate package.json not found above ' + fileURLToPath(import.meta.url))
    dir = parent
  }
}

export const PACKAGE_ROOT = packageRoot()
export const VERSION = (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version
