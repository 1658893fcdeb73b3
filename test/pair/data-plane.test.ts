// The data-plane switch at start: js always runs node:http2, auto runs native only where the engine addon loads (one log line says why), native without it fails naming the key; /config shows the outcome.
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { parseConfig } from '../../src/config/load.js'
import { MeshError } from '../../core/errors.js'
import { startProxy, type RunningProxy } from '../../src/proxy.js'
import { h2NativeAvailability } from '../../transports/h2-native/index.js'
import { get } from '../helpers/clients.js'
import { run } from '../helpers/exec.js'
import { startPair, type Pair } from '../helpers/pair.js'
import { sessionTransports } from '../helpers/transports.js'
import { captureLog, type CapturedLog } from '../discovery/log-capture.js'

const availability = h2NativeAvailability()
/** dist/test/pair/data-plane.test.js → dist/src/cli.js */
const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url))

let dir: string
before(async () => { dir = await mkdtemp(join(tmpdir(), 'meshgate-data-plane-')) })
after(async () => { await rm(dir, { recursive: true, force: true }) })

/** A proxy with only an admin server on 127.0.0.1:0, `dataPlane` as given (absent: the default). */
async function start (name: string, dataPlane: string | undefined, log: CapturedLog): Promise<RunningProxy> {
  const yaml = `${dataPlane === undefined ? '' : `dataPlane: ${dataPlane}\n`}admin: { host: 127.0.0.1, port: 0 }\n`
  return await startProxy(parseConfig(yaml, join(dir, `${name}.yaml`)), log.logger)
}

/** The start-up lines that report the data plane. */
function dataPlaneLines (log: CapturedLog): Array<Record<string, unknown>> {
  return log.lines.filter((l) => 'dataPlane' in l)
}

async function servedConfig (proxy: RunningProxy): Promise<Record<string, any>> {
  const admin = proxy.adminAddress
  assert.ok(admin !== undefined)
  const res = await fetch(`http://127.0.0.1:${admin.port}/config`)
  assert.equal(res.status, 200)
  return await res.json() as Record<string, any>
}

describe('dataPlane: js', { timeout: 30_000 }, () => {
  const log = captureLog()
  let proxy: RunningProxy
  before(async () => { proxy = await start('js', 'js', log) })
  after(async () => { await proxy?.close() })

  it('runs node:http2 whatever the engine, says so once, and /config shows it', async () => {
    assert.equal(proxy.dataPlane, 'js')
    assert.deepEqual(proxy.dataPlaneSelection, { configured: 'js', effective: 'js', reason: 'chosen in the config' })
    const lines = dataPlaneLines(log)
    assert.equal(lines.length, 1, JSON.stringify(lines))
    assert.equal(lines[0].level, 30)
    assert.equal(lines[0].dataPlane, 'js')
    assert.equal(lines[0].configured, 'js')
    const body = await servedConfig(proxy)
    assert.deepEqual(body.dataPlane, { configured: 'js', effective: 'js', reason: 'chosen in the config' })
    assert.equal(body.file, join(dir, 'js.yaml'))
  })
})

describe('dataPlane: auto (the default)', { timeout: 30_000 }, () => {
  const log = captureLog()
  let proxy: RunningProxy
  before(async () => { proxy = await start('auto', undefined, log) })
  after(async () => { await proxy?.close() })

  it('runs native exactly when the engine addon loads, and logs one info line saying why', () => {
    const expected = availability.available ? 'native' : 'js'
    assert.equal(proxy.dataPlane, expected)
    assert.equal(proxy.dataPlaneSelection.configured, 'auto')
    assert.equal(proxy.dataPlaneSelection.effective, expected)
    const lines = dataPlaneLines(log)
    assert.equal(lines.length, 1, JSON.stringify(lines))
    const [line] = lines
    assert.equal(line.level, 30)
    assert.equal(line.dataPlane, expected)
    assert.equal(line.configured, 'auto')
    if (availability.available) {
      assert.match(String(line.reason), new RegExp(`nghttp2 ${availability.versions.nghttp2}`))
    } else {
      // The availability check's own reason and install hint, in the fields and in the message.
      assert.equal(line.reason, availability.reason)
      assert.equal(line.installHint, availability.installHint)
      assert.ok(String(line.msg).includes(availability.reason.split('\n')[0]), String(line.msg))
      assert.ok(String(line.msg).includes(availability.installHint), String(line.msg))
    }
  })

  it('/config shows the configured and the effective data plane', async () => {
    const body = await servedConfig(proxy)
    assert.equal(body.dataPlane.configured, 'auto')
    assert.equal(body.dataPlane.effective, availability.available ? 'native' : 'js')
    assert.equal(body.dataPlane.reason, proxy.dataPlaneSelection.reason)
    if (!availability.available) assert.equal(body.dataPlane.reason, availability.reason)
  })
})

describe('dataPlane: native without the engine addon', { timeout: 30_000, skip: availability.available ? 'the native engine loads here' : false }, () => {
  const reason = availability.available ? '' : availability.reason
  const hint = availability.available ? '' : availability.installHint

  it('fails at start with E_TRANSPORT_UNAVAILABLE naming the file, the key, the reason and the install hint', async () => {
    const log = captureLog()
    const file = join(dir, 'native.yaml')
    const outcome = await start('native', 'native', log).then((proxy) => ({ proxy }), (error: unknown) => ({ error }))
    if ('proxy' in outcome) {
      await outcome.proxy.close()
      assert.fail('started although the native engine is not available')
    }
    const err = outcome.error
    assert.ok(err instanceof MeshError, String(err))
    assert.equal(err.code, 'E_TRANSPORT_UNAVAILABLE')
    const first = err.message.split('\n')[0]
    assert.ok(first.startsWith(`${file}: dataPlane: native`), first)
    assert.ok(first.includes(reason.split('\n')[0]), first)
    assert.ok(first.includes(hint), first)
  })

  it('the command exits 1 with the code, the key and the install hint on stderr', async () => {
    const file = join(dir, 'native-cli.yaml')
    await writeFile(file, 'log: { level: silent }\nadmin: false\ndataPlane: native\n')
    const result = await run(process.execPath, [CLI, 'run', file], { timeoutMs: 20_000 })
    assert.equal(result.code, 1, result.stderr)
    assert.match(result.stderr, /failed to start \[E_TRANSPORT_UNAVAILABLE\]/)
    assert.ok(result.stderr.includes(`${file}: dataPlane: native`), result.stderr)
    assert.ok(result.stderr.includes(hint), result.stderr)
  })
})

describe('dataPlane: native with the engine addon', { timeout: 30_000, skip: availability.available ? false : `native h2 engine not available (${availability.installHint})` }, () => {
  it('runs the native engine', async () => {
    const log = captureLog()
    const proxy = await start('native-ok', 'native', log)
    try {
      assert.equal(proxy.dataPlane, 'native')
      assert.equal(dataPlaneLines(log)[0]?.dataPlane, 'native')
    } finally {
      await proxy.close()
    }
  })
})

describe('a pair on the js data plane', { timeout: 60_000 }, () => {
  let pair: Pair
  before(async () => { pair = await startPair({ dataPlane: 'js' }) })
  after(async () => { await pair?.close() })

  it('carries a request over h2, with both sides on js', async () => {
    const reply = await get(pair.appPort)
    assert.equal(reply.status, 200, reply.body)
    assert.equal(reply.error, undefined)
    assert.equal(pair.client.dataPlane, 'js')
    assert.equal(pair.server.dataPlane, 'js')
    assert.deepEqual(sessionTransports(pair), ['h2'])
  })
})
