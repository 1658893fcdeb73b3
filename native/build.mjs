#!/usr/bin/env node
/**
 * Builds the optional native addons when their system libraries are installed, and otherwise
 * says so in one line each: the QUIC/HTTP/3 addon (native/binding.gyp: ngtcp2, nghttp3, GnuTLS)
 * and the native h2 engine (native/engine/binding.gyp: nghttp2, GnuTLS, llhttp's sources). Run from `npm install`
 * (prepare): it never fails the install. `--strict` (npm run native:build) exits non-zero when
 * an addon is not built. MESHGATE_SANITIZE=1 builds the engine with ASan + UBSan.
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const strict = process.argv.includes('--strict')
const here = dirname(fileURLToPath(import.meta.url))

const ADDONS = [
  {
    name: 'QUIC/HTTP/3 addon',
    fallback: 'h2 only',
    directory: here,
    output: join(here, 'build', 'Release', 'meshgate_quic.node'),
    libraries: {
      libngtcp2: 'libngtcp2-dev',
      libngtcp2_crypto_gnutls: 'libngtcp2-crypto-gnutls-dev',
      libnghttp3: 'libnghttp3-dev',
      gnutls: 'libgnutls28-dev',
    },
  },
  {
    name: 'native h2 engine',
    fallback: 'the JS data path',
    directory: join(here, 'engine'),
    output: join(here, 'engine', 'build', 'Release', 'meshgate_engine.node'),
    libraries: { libnghttp2: 'libnghttp2-dev', gnutls: 'libgnutls28-dev' },
    // llhttp has no pkg-config file: Debian's node-llhttp ships its C sources and header, which
    // binding.gyp compiles in (the same variables override both places).
    files: {
      'node-llhttp': [
        join(process.env.MESHGATE_LLHTTP_DIR ?? '/usr/share/llhttp', 'llhttp.c'),
        join(process.env.MESHGATE_LLHTTP_INCLUDE ?? '/usr/share/include/llhttp', 'llhttp.h'),
      ],
    },
  },
]

let failed = false

function skip (addon, why) {
  console.log(`meshgate: ${addon.name} not built: ${why} (${addon.fallback}; see native/README.md)`)
  failed = true
}

function build (addon) {
  if (process.env.MESHGATE_SKIP_NATIVE === '1') return skip(addon, 'MESHGATE_SKIP_NATIVE=1')
  const probe = spawnSync('pkg-config', ['--version'], { stdio: 'ignore' })
  if (probe.error !== undefined || probe.status !== 0) {
    return skip(addon, `pkg-config not found; apt-get install -y pkg-config ${Object.values(addon.libraries).join(' ')}`)
  }
  const missing = Object.entries(addon.libraries)
    .filter(([module]) => spawnSync('pkg-config', ['--exists', module], { stdio: 'ignore' }).status !== 0)
    .map(([, pkg]) => pkg)
  for (const [pkg, paths] of Object.entries(addon.files ?? {})) {
    if (!paths.every((path) => existsSync(path))) missing.push(pkg)
  }
  if (missing.length > 0) return skip(addon, `missing ${missing.join(', ')}; apt-get install -y ${missing.join(' ')}`)
  let nodeGyp
  try {
    nodeGyp = createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js')
  } catch {
    return skip(addon, 'node-gyp is not installed (npm install)')
  }
  const args = [nodeGyp, 'rebuild', `--directory=${addon.directory}`]
  // Use the headers installed next to this node binary (Debian's nodejs-dev, or an official
  // tarball) instead of downloading them, unless npm already names a nodedir.
  const prefix = resolve(dirname(process.execPath), '..')
  if (process.env.npm_config_nodedir === undefined && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) {
    args.push(`--nodedir=${prefix}`)
  }
  const result = spawnSync(process.execPath, args, { stdio: ['ignore', 'inherit', 'inherit'] })
  if (result.status !== 0) return skip(addon, 'node-gyp failed (output above)')
  console.log(`meshgate: ${addon.name} built: ${addon.output}`)
}

for (const addon of ADDONS) build(addon)
process.exit(strict && failed ? 1 : 0)
