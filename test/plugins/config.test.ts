// `plugins:` in the config: every bad entry is reported with file, YAML path, found and expected;
// a module that is WebAssembly but not a usable Proxy-Wasm plugin stops the start with E_PLUGIN.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { ConfigError, MeshError } from '../../core/errors.js'
import { loadConfig } from '../../src/config/load.js'
import { PluginChain } from '../../src/plugins/plugin-chain.js'
import { DEFAULTS } from '../../src/config/defaults.js'
import { builtPlugins } from '../helpers/plugins.js'

let dir: string
before(async () => { dir = await mkdtemp(join(tmpdir(), 'meshgate-plugin-config-')) })
after(async () => { await rm(dir, { recursive: true, force: true }) })

// The smallest module: the header, version 1, and nothing else.
const EMPTY_MODULE = Uint8Array.of(0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00)

async function problemsOf (text: string): Promise<ConfigError> {
  const file = join(dir, 'bad.yaml')
  await writeFile(file, text)
  const err = await loadConfig(file).then(() => undefined, (e: unknown) => e)
  assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`)
  assert.equal(err.file, file)
  return err
}

test('bad plugin entries: missing file, not WebAssembly, duplicate name, unknown key, bad limits', async () => {
  await writeFile(join(dir, 'junk.wasm'), 'not wasm at all')
  await writeFile(join(dir, 'empty.wasm'), EMPTY_MODULE)
  const err = await problemsOf(`
services:
  web: { endpoints: [{ peer: 127.0.0.1:4143, identity: spiffe://t/ns/a/sa/b, target: 127.0.0.1:8080 }] }
outbound:
  tls: { ca: ca.crt, cert: me.crt, key: me.key }
  listeners:
    - name: app
      host: 127.0.0.1
      port: 0
      plugins:
        - { name: a, wasm: missing.wasm }
        - { name: b, wasm: junk.wasm }
        - { name: c, wasm: empty.wasm, conifg: x }
        - { name: c, wasm: empty.wasm, callTimeoutMs: forever, maxTraps: 0, maxMemory: 1KiB }
inbound:
  tls: { ca: ca.crt, cert: me.crt, key: me.key }
  listeners: [{ host: 127.0.0.1, port: 0 }]
  targets: [{ address: 127.0.0.1:8080, allow: ["*"] }]
  plugins: [{ name: "bad name!", wasm: empty.wasm, config: [1, 2] }]
`)
  const byPath = new Map(err.problems.map((p) => [p.path, p]))
  const at = (path: string): { found: string, expected: string } => {
    const problem = byPath.get(path)
    assert.ok(problem !== undefined, `${path} in ${[...byPath.keys()].join(', ')}`)
    return problem
  }
  assert.match(at('outbound.listeners[0].plugins[0].wasm').expected, /a readable \.wasm file \(ENOENT; built by `npm run build:plugins`\?\)/)
  assert.equal(at('outbound.listeners[0].plugins[1].wasm').expected, 'a valid WebAssembly module')
  assert.match(at('outbound.listeners[0].plugins[2].conifg').expected, /did you mean "config"/)
  assert.match(at('outbound.listeners[0].plugins[3].callTimeoutMs').expected, /a duration/)
  assert.match(at('outbound.listeners[0].plugins[3].maxTraps').expected, /an integer 1–/)
  assert.match(at('outbound.listeners[0].plugins[3].maxMemory').expected, /a size 64KiB–/)
  assert.match(at('inbound.plugins[0].name').expected, /a plugin name/)
  assert.equal(at('inbound.plugins[0].config').expected, 'a string or a map')
  assert.match(err.message, /bad\.yaml: outbound\.listeners\[0\]\.plugins\[0\]\.wasm: expected a readable \.wasm file/)
})

test('two plugins of one list may not share a name', async () => {
  await writeFile(join(dir, 'empty.wasm'), EMPTY_MODULE)
  const err = await problemsOf(`
outbound:
  tls: { ca: ca.crt, cert: me.crt, key: me.key }
  listeners:
    - { name: app, host: 127.0.0.1, port: 0, plugins: [{ name: same, wasm: empty.wasm }, { name: same, wasm: empty.wasm }] }
`)
  assert.deepEqual(err.problems.map((p) => [p.path, p.expected]), [['outbound.listeners[0].plugins[1].name', 'a name not already used by entry [0] of this list']])
})

const limits = { config: '', callTimeoutMs: DEFAULTS.plugin.callTimeoutMs, maxMemory: DEFAULTS.plugin.maxMemory, maxTraps: 5, failOpen: false }
const deps = { logger: pino({ level: 'silent' }), observer: {} }

test('WebAssembly that is no Proxy-Wasm module is refused at start with E_PLUGIN', async () => {
  await writeFile(join(dir, 'empty.wasm'), EMPTY_MODULE)
  const err = await PluginChain.load([{ name: 'empty', wasm: join(dir, 'empty.wasm'), ...limits }], deps).then(() => undefined, (e: unknown) => e)
  assert.ok(err instanceof MeshError)
  assert.equal(err.code, 'E_PLUGIN')
  assert.match(err.message, /plugin "empty" \(.*empty\.wasm\): not a Proxy-Wasm module \(it exports none of proxy_abi_version_0_2_1, proxy_abi_version_0_2_0\)/)
})

test('a plugin that refuses its configuration stops the start', { timeout: 310_000 }, async () => {
  const plugins = await builtPlugins()
  // deny-without-token's proxy_on_configure returns false without a token.
  const err = await PluginChain.load([{ name: 'deny-without-token', wasm: join(plugins, 'deny-without-token.wasm'), ...limits }], deps).then(() => undefined, (e: unknown) => e)
  assert.ok(err instanceof MeshError)
  assert.equal(err.code, 'E_PLUGIN')
  assert.match(err.message, /rejected its configuration/)
})

test('a plugin whose root id is not the configured name fails to start', { timeout: 310_000 }, async () => {
  const plugins = await builtPlugins()
  const err = await PluginChain.load([{ name: 'not-its-name', wasm: join(plugins, 'add-header.wasm'), ...limits }], deps).then(() => undefined, (e: unknown) => e)
  assert.ok(err instanceof MeshError)
  assert.equal(err.code, 'E_PLUGIN')
  assert.match(err.message, /plugin "not-its-name"/)
})

test('a route\'s plugins are checked like a listener\'s, each problem at its YAML path', async () => {
  await writeFile(join(dir, 'junk.wasm'), 'not wasm at all')
  await writeFile(join(dir, 'empty.wasm'), EMPTY_MODULE)
  const err = await problemsOf(`
services:
  web:
    endpoints: [{ peer: 127.0.0.1:4143, identity: spiffe://t/ns/a/sa/b, target: 127.0.0.1:8080 }]
    routes:
      - name: fine
        plugins: [{ name: a, wasm: empty.wasm }]
      - name: broken
        match: [{ path: { prefix: /b } }]
        plugins:
          - { name: a, wasm: missing.wasm }
          - { name: b, wasm: junk.wasm }
          - { name: c, wasm: empty.wasm, maxTraps: 0 }
      - name: twice
        plugins: [{ name: a, wasm: empty.wasm }, { name: a, wasm: empty.wasm }]
      - name: wrong-type
        plugins: { name: a, wasm: empty.wasm }
`)
  assert.deepEqual(err.problems.map((p) => p.path).sort(), [
    'services.web.routes[1].plugins[0].wasm',
    'services.web.routes[1].plugins[1].wasm',
    'services.web.routes[1].plugins[2].maxTraps',
    'services.web.routes[2].plugins[1].name',
    'services.web.routes[3].plugins',
  ].sort())
  assert.match(err.message, /bad\.yaml: services\.web\.routes\[1\]\.plugins\[0\]\.wasm: expected a readable \.wasm file \(ENOENT/)
  assert.equal(err.problems.find((p) => p.path === 'services.web.routes[1].plugins[1].wasm')?.expected, 'a valid WebAssembly module')
  assert.equal(err.problems.find((p) => p.path === 'services.web.routes[2].plugins[1].name')?.expected, 'a name not already used by entry [0] of this list')
})

test('a reload that changes a route\'s plugins says it needs a restart; one that changes only its match does not', async () => {
  await writeFile(join(dir, 'empty.wasm'), EMPTY_MODULE)
  const { needsRestart } = await import('../../src/reload.js')
  const config = async (prefix: string, plugins: string): Promise<import('../../src/config/types.js').MeshConfig> => {
    const file = join(dir, 'routes.yaml')
    await writeFile(file, `
services:
  web:
    endpoints: [{ peer: 127.0.0.1:4143, identity: spiffe://t/ns/a/sa/b, target: 127.0.0.1:8080 }]
    routes: [{ name: r, match: [{ path: { prefix: ${prefix} } }], plugins: ${plugins} }]
`)
    return await loadConfig(file)
  }
  const base = await config('/a', '[{ name: p, wasm: empty.wasm }]')
  assert.deepEqual(needsRestart(base, await config('/b', '[{ name: p, wasm: empty.wasm }]')), [])
  assert.deepEqual(needsRestart(base, await config('/a', '[{ name: p, wasm: empty.wasm, config: other }]')), ['services.web.routes.r.plugins'])
  assert.deepEqual(needsRestart(base, await config('/a', '[]')), ['services.web.routes.r.plugins'])
})
