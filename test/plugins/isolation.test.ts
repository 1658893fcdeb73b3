// A plugin that traps, one that loops forever and one that allocates without bound, on both data
// paths: each fails only the request in its callback (500 E_PLUGIN), the plugin's other requests
// and the listener without plugins go on, and a plugin past its trap limit is disabled, counted
// and logged.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { startPair, type Pair } from '../helpers/pair.js'
import { DATA_PLANES } from '../helpers/transports.js'
import { builtPlugins, pluginYaml } from '../helpers/plugins.js'
import { captureLog, until, type CapturedLog } from '../discovery/log-capture.js'

interface Reply { status: number, error: string | undefined, body: string }

async function get (port: number, path: string): Promise<Reply> {
  return await new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: { host: 'web.test' }, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, error: res.headers['meshgate-error'] as string | undefined, body }))
    })
    req.on('error', reject)
    req.setTimeout(15_000, () => req.destroy(new Error('test request timed out')))
  })
}

before(async () => { await builtPlugins() }, { timeout: 310_000 })

for (const plane of DATA_PLANES) {
  describe(`failing plugins are contained (${plane.name} data path)`, { skip: plane.skip }, () => {
    let pair: Pair
    let log: CapturedLog
    before(async () => {
      await builtPlugins()
      log = captureLog('warn')
      pair = await startPair({
        dataPlane: plane.name,
        clientLogger: log.logger,
        outboundPlugins: `[${[
          pluginYaml('loop-forever', 'callTimeoutMs: 1s'),
          pluginYaml('allocate-forever', 'maxMemory: 1MiB'),
          pluginYaml('trap', 'maxTraps: 3'),
        ].join(', ')}]`,
      })
    }, { timeout: 310_000 })
    after(async () => { await pair?.close() })

    test('a plugin looping forever fails its request; the other listener answers meanwhile, and the plugin\'s next request works', async () => {
      const looping = get(pair.pluginPort, '/loop')
      let loopDone = false
      looping.finally(() => { loopDone = true }).catch(() => {})
      const other = await get(pair.appPort, '/')
      assert.equal(other.status, 200)
      assert.equal(loopDone, false, 'the listener without plugins answered while the VM was stuck')
      const stuck = await looping
      assert.equal(stuck.status, 500)
      assert.equal(stuck.error, 'E_PLUGIN')
      assert.match(stuck.body, /loop-forever.*ran past its budget of 1000 ms/)
      const next = await get(pair.pluginPort, '/')
      assert.equal(next.status, 200, 'a new VM took the next request')
    })

    test('a client that leaves while the response head is with a stuck plugin takes nothing else down', async () => {
      const left = await new Promise<string>((resolve) => {
        const req = http.get({ host: '127.0.0.1', port: pair.pluginPort, path: '/late-loop', headers: { host: 'web.test' }, agent: false })
        req.on('error', (err) => { resolve(err.message) })
        req.on('response', () => { resolve('answered') })
        setTimeout(() => { req.destroy(new Error('left early')) }, 300)
      })
      assert.equal(left, 'left early')
      // The stuck call runs out its budget with nobody waiting; the listener and its plugins go on.
      assert.equal((await get(pair.pluginPort, '/')).status, 200)
      assert.equal((await get(pair.appPort, '/')).status, 200)
    })

    test('a plugin allocating without bound hits its memory limit: that request fails, the next works', async () => {
      const hungry = await get(pair.pluginPort, '/alloc')
      assert.equal(hungry.status, 500)
      assert.equal(hungry.error, 'E_PLUGIN')
      assert.match(hungry.body, /allocate-forever.*trapped/)
      assert.equal((await get(pair.pluginPort, '/')).status, 200)
    })

    test('a trapping plugin fails only its requests, then is disabled after maxTraps (counted, logged)', async () => {
      for (let i = 0; i < 2; i++) {
        const trapped = await get(pair.pluginPort, '/trap')
        assert.equal(trapped.status, 500)
        assert.equal(trapped.error, 'E_PLUGIN')
        assert.match(trapped.body, /plugin "trap" trapped/)
        assert.equal((await get(pair.pluginPort, '/fine')).status, 200, 'the request after a trap goes through')
      }
      const last = await get(pair.pluginPort, '/trap')
      assert.equal(last.error, 'E_PLUGIN')
      assert.match(last.body, /plugin "trap" trapped/, 'the request whose trap disables the plugin is told it trapped')
      // The third trap reached maxTraps: the plugin is off, and (failOpen false) fails every request.
      const afterwards = await get(pair.pluginPort, '/fine')
      assert.equal(afterwards.status, 500)
      assert.equal(afterwards.error, 'E_PLUGIN')
      assert.match(afterwards.body, /plugin "trap" is disabled/)
      assert.equal((await get(pair.appPort, '/')).status, 200, 'the listener without plugins is unaffected')

      const metrics = await pair.client.metrics.registry.metrics()
      assert.match(metrics, /meshgate_plugin_failures_total\{plugin="trap",kind="trap"\} 3/)
      assert.match(metrics, /meshgate_plugin_failures_total\{plugin="loop-forever",kind="timeout"\} 2/)
      assert.match(metrics, /meshgate_plugin_failures_total\{plugin="allocate-forever",kind="trap"\} 1/)
      assert.match(metrics, /meshgate_plugin_disabled\{plugin="trap"\} 1/)
      await until(() => log.lines.some((l) => l.msg === 'plugin disabled after too many traps' && l.plugin === 'trap'), 5_000, 'the disabled log line')
    })
  })
}

describe('a disabled plugin with failOpen is skipped', () => {
  let pair: Pair
  before(async () => {
    await builtPlugins()
    pair = await startPair({ outboundPlugins: `[${pluginYaml('trap', 'maxTraps: 1, failOpen: true')}, ${pluginYaml('add-header')}]` })
  }, { timeout: 310_000 })
  after(async () => { await pair?.close() })

  test('after its one trap, requests pass it by and still reach the next plugin', async () => {
    assert.equal((await get(pair.pluginPort, '/trap')).error, 'E_PLUGIN')
    const reply = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: pair.pluginPort, path: '/trap', headers: { host: 'web.test' }, agent: false }, (res) => { res.resume(); resolve(res) }).on('error', reject)
    })
    assert.equal(reply.statusCode, 200)
    assert.equal(reply.headers['x-plugin'], 'add-header')
  })
})
