#!/usr/bin/env node
/**
 * Builds the optional QUIC/HTTP/3 addon (native/binding.gyp) when the system libraries are
 * installed, and otherwise says so in one line. Run from `npm install` (prepare): it never fails
 * the install. `--strict` (npm run native:build) exits non-zero when the addon is not built.
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const strict = process.argv.includes('--strict')
const here = dirname(fileURLToPath(import.meta.url))

/** pkg-config module → the Debian package that ships it. */
const LIBRARIES = {
  libngtcp2: 'libngtcp2-dev',
  libngtcp2_crypto_gnutls: 'libngtcp2-crypto-gnutls-dev',
  libnghttp3: 'libnghttp3-dev',
  gnutls: 'libgnutls28-dev',
}

function skip (why) {
  console.log(`meshgate: QUIC/HTTP/3 addon not built: ${why} (h2 only; see native/README.md)`)
  process.exit(strict ? 1 : 0)
}

if (process.env.MESHGATE_SKIP_NATIVE === '1') skip('MESHGATE_SKIP_NATIVE=1')

const probe = spawnSync('pkg-config', ['--version'], { stdio: 'ignore' })
if (probe.error !== undefined || probe.status !== 0) {
  skip(`pkg-config not found; apt-get install -y pkg-config ${Object.values(LIBRARIES).join(' ')}`)
}
const missing = Object.entries(LIBRARIES)
  .filter(([module]) => spawnSync('pkg-config', ['--exists', module], { stdio: 'ignore' }).status !== 0)
  .map(([, pkg]) => pkg)
if (missing.length > 0) skip(`missing ${missing.join(', ')}; apt-get install -y ${missing.join(' ')}`)

let nodeGyp
try {
  nodeGyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js')
} catch {
  skip('node-gyp is not installed (npm install)')
}

const args = [nodeGyp, 'rebuild', `--directory=${here}`]
// Use the headers installed next to this node binary (Debian's nodejs-dev, or an official
// tarball) instead of downloading them, unless npm already names a nodedir.
const prefix = resolve(dirname(process.execPath), '..')
if (process.env.npm_config_nodedir === undefined && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) {
  args.push(`--nodedir=${prefix}`)
}
const build = spawnSync(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] })
if (build.status !== 0) skip('node-gyp failed (output above)')
console.log(`meshgate: QUIC/HTTP/3 addon built: ${join(here, 'build', 'Release', 'meshgate_quic.node')}`)
