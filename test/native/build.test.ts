/**
 * The addon stays optional: without the -dev packages native/build.mjs prints one line naming
 * the apt packages and exits 0 (so `npm ci` succeeds); `--strict` (npm run native:build) fails.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { resolve, dirname } from 'node:path'

// dist/test/native → package root
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const script = resolve(root, 'native', 'build.mjs')
// pkg-config finds nothing under an empty search path: the machine "has no -dev packages".
const bare = { ...process.env, PKG_CONFIG_LIBDIR: '/nonexistent', PKG_CONFIG_PATH: '' }

test('without the libraries each addon is skipped with one line and exit 0', () => {
  const run = spawnSync(process.execPath, [script], { env: bare, encoding: 'utf8' })
  assert.equal(run.status, 0)
  const lines = run.stdout.trim().split('\n')
  assert.equal(lines.length, 2)
  assert.match(lines[0] ?? '', /QUIC\/HTTP\/3 addon not built: missing .*libngtcp2-dev.*apt-get install -y/)
  assert.match(lines[1] ?? '', /native h2 engine not built: missing .*libnghttp2-dev.*apt-get install -y.*JS data path/)
})

test('--strict fails when the addon cannot be built', () => {
  const run = spawnSync(process.execPath, [script, '--strict'], { env: bare, encoding: 'utf8' })
  assert.equal(run.status, 1)
})

test('MESHGATE_SKIP_NATIVE=1 skips the build', () => {
  const run = spawnSync(process.execPath, [script], { env: { ...process.env, MESHGATE_SKIP_NATIVE: '1' }, encoding: 'utf8' })
  assert.equal(run.status, 0)
  assert.match(run.stdout, /not built: MESHGATE_SKIP_NATIVE=1/)
})

test('without node-llhttp\'s sources the engine is skipped, naming the package', () => {
  const run = spawnSync(process.execPath, [script], { env: { ...bare, MESHGATE_LLHTTP_DIR: '/nonexistent' }, encoding: 'utf8' })
  assert.equal(run.status, 0)
  assert.match(run.stdout, /native h2 engine not built: missing [^\n]*node-llhttp[^\n]*apt-get install -y [^\n]*node-llhttp/)
})
