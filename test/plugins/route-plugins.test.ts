// Plugins on routes, through a real pair with plugins built at test time from the SDK: a route's
// chain runs only on the requests matched to it, after the listener's chain (request) and before
// it (response); a listener's plugin that sets a header steers the request to a route; a route
// whose plugin traps, loops forever or allocates without bound fails only its own requests, and
// the other routes go on meanwhile and after; a route's local-reply
// plugin denies only that route's requests, and its log line reaches meshgate's log.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { startPair, type Pair } from '../helpers/pair.js'
import { DATA_PLANES } from '../helpers/transports.js'
import { builtPlugins, pluginYaml, requestOnce, type Reply, type RequestOptions } from '../helpers/plugins.js'
import { captureLog, until, type CapturedLog } from '../discovery/log-capture.js'
import { parseConfig } from '../../src/config/load.js'
import { policyFor } from '../../src/route/from-config.js'
import { noopRouteObserver } from '../../src/route/policy.js'

/** One request on a fresh connection, bounded at 15 s. */
async function request (port: number, path: string, options: RequestOptions = {}): Promise<Reply> {
  return await requestOnce(port, path, options, 15_000)
}

function serviceOf (reply: Reply): string {
  return (JSON.parse(reply.body) as { service: string }).service
}

const routes = (): string => `routes:
  - name: plugged
    match: [{ path: { prefix: /plugged } }]
    plugins: [${pluginYaml('add-header', 'config: on-route')}, ${pluginYaml('read-properties')}]
  - name: private
    match: [{ path: { prefix: /private } }]
    plugins: [${pluginYaml('deny-without-token', 'config: s3cret')}]
  - name: looping
    match: [{ path: { prefix: /loop } }]
    plugins: [${pluginYaml('loop-forever', 'callTimeoutMs: 1s')}]
  - name: hungry
    match: [{ path: { prefix: /alloc } }]
    plugins: [${pluginYaml('allocate-forever', 'maxMemory: 1MiB')}]
  - name: trapping
    match: [{ path: { prefix: /trap } }]
    plugins: [${pluginYaml('trap', 'maxTraps: 2')}]
  - name: steered
    match: [{ headers: [{ name: x-steer, exact: "yes" }] }]
    plugins: [${pluginYaml('add-header', 'config: steered-route')}, ${pluginYaml('rewrite-body', 'config: "meshgate-demo:route-rewrote"')}]
  - name: plain`

before(async () => { await builtPlugins() }, { timeout: 310_000 })

for (const plane of DATA_PLANES) {
  describe(`plugins on routes (${plane.name} data path)`, { skip: plane.skip }, () => {
    let pair: Pair
    let log: CapturedLog
    before(async () => {
      await builtPlugins()
      log = captureLog('info')
      pair = await startPair({
        dataPlane: plane.name,
        clientLogger: log.logger,
        webExtra: routes(),
        // The `plugged` listener: its own plugins, one of which steers every request to `steered`
        // unless a route before it matched.
        outboundPlugins: `[${[
          pluginYaml('add-header', 'config: on-listener'),
          pluginYaml('set-request-header', 'config: "x-steer=yes"'),
          pluginYaml('read-properties'),
        ].join(', ')}]`,
      })
    }, { timeout: 310_000 })
    after(async () => { await pair?.close() })

    test('a route\'s plugins act only on the requests matched to it (a listener without plugins)', async () => {
      const plugged = await request(pair.appPort, '/plugged/x')
      assert.equal(plugged.status, 200)
      assert.equal(plugged.headers['x-plugin'], 'on-route')
      assert.equal(plugged.headers['x-prop-xds-route_name'], 'plugged', 'the route plugin reads its route')
      assert.equal(plugged.headers['x-prop-meshgate-service'], 'web')
      assert.equal(plugged.headers['x-prop-request-path'], '/plugged/x')
      assert.equal(plugged.headers['x-prop-source-principal'], pair.pki.id('client'))
      assert.equal(plugged.headers['x-prop-destination-principal'], pair.pki.id('server'))
      const plain = await request(pair.appPort, '/elsewhere')
      assert.equal(plain.status, 200)
      assert.equal(plain.headers['x-plugin'], undefined, 'the plain route runs no plugin')
      assert.equal(plain.headers['x-prop-xds-route_name'], undefined)
      assert.equal(serviceOf(plain), 'meshgate-demo')
    })

    test('a route\'s local-reply plugin denies only that route\'s requests without the token, and logs through meshgate', async () => {
      const denied = await request(pair.appPort, '/private/x')
      assert.equal(denied.status, 401)
      assert.equal(denied.body, 'a bearer token is required\n')
      const allowed = await request(pair.appPort, '/private/x', { headers: { authorization: 'Bearer s3cret' } })
      assert.equal(allowed.status, 200)
      assert.equal((await request(pair.appPort, '/elsewhere')).status, 200, 'no token needed elsewhere')
      await until(() => log.lines.some((l) => l.plugin === 'deny-without-token' && l.msg === 'denied /private/x: no valid token' && l.route === 'private'), 5_000, 'the plugin\'s log line')
    })

    test('a route\'s body plugin rewrites the request and response bodies of that route only', async () => {
      const body = 'one meshgate-demo, '.repeat(2000)
      const steered = await request(pair.appPort, '/echo', { method: 'POST', headers: { 'x-steer': 'yes', 'content-type': 'text/plain' }, body })
      assert.equal(steered.status, 200)
      assert.equal(steered.headers['x-plugin'], 'steered-route')
      const expected = 'one route-rewrote, '.repeat(2000)
      assert.ok(steered.body === expected, `the app echoed ${steered.body.length} bytes (${JSON.stringify(steered.body.slice(0, 40))}...), not the ${expected.length} rewritten ones`)
      const plain = await request(pair.appPort, '/echo', { method: 'POST', headers: { 'content-type': 'text/plain' }, body })
      assert.ok(plain.body === body, 'a request of another route reaches the app as sent')
    })

    test('the listener\'s chain runs first on the request and last on the response; both read the same route', async () => {
      const reply = await request(pair.pluginPort, '/plugged')
      assert.equal(reply.status, 200)
      // The route's add-header answered first (nearer the peer), then the listener's.
      assert.equal(reply.headers['x-plugin'], 'on-route, on-listener')
      // read-properties is in both chains: the listener's learnt the route once the request was routed.
      assert.equal(reply.headers['x-prop-xds-route_name'], 'plugged, plugged')
      assert.equal(reply.headers['x-prop-plugin_name'], 'read-properties, read-properties')
    })

    test('a header the listener\'s plugin sets decides the route, and the route\'s plugins then run', async () => {
      const reply = await request(pair.pluginPort, '/hello')
      assert.equal(reply.status, 200)
      assert.equal(reply.headers['x-plugin'], 'steered-route, on-listener')
      assert.equal(reply.headers['x-prop-xds-route_name'], 'steered')
      assert.equal(serviceOf(reply), 'route-rewrote')
    })

    test('a reloaded route table reaches the listener with plugins too, and a route keeps its plugins by name', async () => {
      const outbound = pair.client.outbound
      assert.ok(outbound !== undefined)
      const before = outbound.policy
      // The same routes, `plugged` now matching /moved only: a reload (proxy.ts) builds this.
      const next = parseConfig(`services:
  web:
    endpoints: [{ peer: "127.0.0.1:1", identity: "spiffe://x.test/ns/default/sa/web", target: "127.0.0.1:1" }]
    ${routes().replace('prefix: /plugged', 'prefix: /moved').split('\n').join('\n    ')}
`, '/tmp/live.yaml')
      outbound.policy = policyFor(next, noopRouteObserver, before, outbound.routePlugins)
      try {
        const moved = await request(pair.pluginPort, '/moved')
        assert.equal(moved.headers['x-plugin'], 'on-route, on-listener', 'the route\'s chain loaded at start, on its new match')
        assert.equal(moved.headers['x-prop-xds-route_name'], 'plugged, plugged')
        const old = await request(pair.pluginPort, '/plugged')
        assert.equal(old.headers['x-prop-xds-route_name'], 'steered', 'the old match is gone on the listener with plugins too')
      } finally {
        outbound.policy = before
      }
    })

    test('a plugin looping forever on one route fails only its request; the other routes answer meanwhile', async () => {
      let loopDone = false
      const looping = request(pair.appPort, '/loop')
      looping.finally(() => { loopDone = true }).catch(() => {})
      assert.equal((await request(pair.appPort, '/elsewhere')).status, 200)
      assert.equal((await request(pair.appPort, '/plugged')).headers['x-plugin'], 'on-route')
      assert.equal(loopDone, false, 'the other routes answered while the looping route\'s VM was stuck')
      const stuck = await looping
      assert.equal(stuck.status, 500)
      assert.equal(stuck.headers['meshgate-error'], 'E_PLUGIN')
      assert.match(stuck.body, /loop-forever.*ran past its budget of 1000 ms/)
    })

    test('a plugin allocating without bound on one route hits its memory limit; the other routes go on', async () => {
      const hungry = await request(pair.appPort, '/alloc')
      assert.equal(hungry.status, 500)
      assert.equal(hungry.headers['meshgate-error'], 'E_PLUGIN')
      assert.match(hungry.body, /allocate-forever.*trapped/)
      assert.equal((await request(pair.appPort, '/elsewhere')).status, 200)
      assert.equal((await request(pair.appPort, '/plugged')).headers['x-plugin'], 'on-route')
    })

    test('a trapping plugin on one route fails only that route\'s requests, then is disabled; the other routes go on', async () => {
      for (let i = 0; i < 2; i++) {
        const trapped = await request(pair.appPort, '/trap')
        assert.equal(trapped.status, 500)
        assert.equal(trapped.headers['meshgate-error'], 'E_PLUGIN')
        assert.match(trapped.body, /plugin "trap" trapped/)
        assert.equal((await request(pair.appPort, '/elsewhere')).status, 200, 'the plain route answers after a trap')
        assert.equal((await request(pair.appPort, '/plugged')).headers['x-plugin'], 'on-route', 'the other route\'s plugins still run')
      }
      // maxTraps 2 reached: the route's plugin is off and (failOpen false) fails that route's requests only.
      const disabled = await request(pair.appPort, '/trap/fine')
      assert.equal(disabled.status, 500)
      assert.equal(disabled.headers['meshgate-error'], 'E_PLUGIN')
      assert.match(disabled.body, /plugin "trap" is disabled/)
      assert.equal((await request(pair.appPort, '/elsewhere')).status, 200)
      assert.equal((await request(pair.pluginPort, '/plugged')).headers['x-plugin'], 'on-route, on-listener')
      const metrics = await pair.client.metrics.registry.metrics()
      assert.match(metrics, /meshgate_plugin_failures_total\{plugin="trap",kind="trap"\} 2/)
      assert.match(metrics, /meshgate_plugin_disabled\{plugin="trap"\} 1/)
      // The request metrics carry the route label of the route that failed.
      assert.match(metrics, /meshgate_requests_total\{[^}]*status_code="500"[^}]*error_code="E_PLUGIN"[^}]*route="trapping"\} 3/)
    })
  })
}
