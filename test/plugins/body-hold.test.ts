// A body a plugin holds back stays in its VM's worker, handed back grown with each chunk; holding
// more than the VM's memory limit fails that request with E_PLUGIN, and the plugin's next stream works.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { pino } from 'pino'
import { MeshError } from '../../core/errors.js'
import { PluginChain } from '../../src/plugins/plugin-chain.js'
import { builtPlugins } from '../helpers/plugins.js'

let chain: PluginChain
before(async () => {
  const dir = await builtPlugins()
  chain = await PluginChain.load([{
    name: 'rewrite-body', wasm: join(dir, 'rewrite-body.wasm'), config: 'a:b', callTimeoutMs: 5_000, maxMemory: 1024 * 1024, maxTraps: 100, failOpen: false,
  }], { logger: pino({ level: 'silent' }), observer: {} })
}, { timeout: 310_000 })
after(async () => { await chain?.close() })

test('held-back chunks come back whole and rewritten at the end of the body', async () => {
  const stream = chain.open({})
  await stream.requestHeaders([[':method', 'POST'], [':path', '/']], false)
  const passed: Buffer[] = []
  for (const part of ['aaa', 'bab', 'a']) passed.push(Buffer.from(await stream.requestBody(Buffer.from(part), false)))
  passed.push(Buffer.from(await stream.requestBody(new Uint8Array(0), true)))
  assert.deepEqual(passed.map((b) => b.toString()), ['', '', '', 'bbbbbbb'])
  stream.close({})
})

test('holding more than the memory limit fails the request with E_PLUGIN; the next stream is fine', async () => {
  const stream = chain.open({})
  await stream.requestHeaders([[':method', 'POST'], [':path', '/']], false)
  const chunk = Buffer.alloc(256 * 1024, 'x')
  let failure: unknown
  for (let i = 0; i < 8 && failure === undefined; i++) {
    failure = await stream.requestBody(chunk, false).then(() => undefined, (err: unknown) => err)
  }
  assert.ok(failure instanceof MeshError, String(failure))
  assert.equal(failure.code, 'E_PLUGIN')
  assert.match(failure.message, /held back more body than its memory limit/)
  stream.close({})

  const next = chain.open({})
  await next.requestHeaders([[':method', 'POST'], [':path', '/']], false)
  assert.equal(Buffer.from(await next.requestBody(Buffer.from('a'), true)).toString(), 'b')
  next.close({})
})
