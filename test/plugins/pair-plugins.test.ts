// Proxy-Wasm plugins through a real pair, on both data paths: plugins built at test time from
// AssemblyScript with @solo-io/proxy-runtime add a header, deny requests without a token, rewrite
// bodies and read properties; a listener without plugins is untouched. On the inbound side too:
// the request line and the request body the plugins leave are what the workload gets.
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { startPair, type Pair } from '../helpers/pair.js'
import { DATA_PLANES, h3Skip } from '../helpers/transports.js'
import { builtPlugins, pluginYaml, requestOnce, type Reply, type RequestOptions } from '../helpers/plugins.js'

/** One request on a fresh connection, bounded at 10 s. */
async function request (port: number, path: string, options: RequestOptions = {}): Promise<Reply> {
  return await requestOnce(port, path, options, 10_000)
}

before(async () => { await builtPlugins() }, { timeout: 310_000 })

for (const plane of DATA_PLANES) {
  describe(`plugins on the outbound listener (${plane.name} data path)`, { skip: plane.skip }, () => {
    let pair: Pair
    before(async () => {
      await builtPlugins()
      pair = await startPair({
        dataPlane: plane.name,
        outboundPlugins: `[${[
          pluginYaml('deny-without-token', 'config: s3cret'),
          pluginYaml('add-header', 'config: from-the-plugin'),
          pluginYaml('rewrite-body', 'config: "meshgate-demo:rewritten-by-wasm"'),
          pluginYaml('read-properties'),
        ].join(', ')}]`,
      })
    }, { timeout: 310_000 })
    after(async () => { await pair?.close() })
    const token = { authorization: 'Bearer s3cret' }

    test('a request without the token is answered 401 by the plugin, never reaching the app', async () => {
      const reply = await request(pair.pluginPort, '/')
      assert.equal(reply.status, 401)
      assert.equal(reply.body, 'a bearer token is required\n')
      assert.equal(reply.headers['www-authenticate'], 'Bearer')
      assert.equal(reply.headers['x-plugin'], undefined, 'the chain stopped at the local reply')
      const wrong = await request(pair.pluginPort, '/', { headers: { authorization: 'Bearer nope' } })
      assert.equal(wrong.status, 401)
    })

    test('with the token: the header plugin adds its header and the body plugin rewrites the response', async () => {
      const reply = await request(pair.pluginPort, '/hello', { headers: token })
      assert.equal(reply.status, 200)
      assert.equal(reply.headers['x-plugin'], 'from-the-plugin')
      const json = JSON.parse(reply.body) as { service: string, path: string }
      assert.equal(json.service, 'rewritten-by-wasm')
      assert.equal(json.path, '/hello')
      assert.equal(reply.headers['content-length'], undefined, 'the body plugin dropped the stale length')
    })

    test('the body plugin rewrites the request body on its way to the app', async () => {
      const body = 'one meshgate-demo, '.repeat(2000)
      const reply = await request(pair.pluginPort, '/echo', { method: 'POST', headers: { ...token, 'content-type': 'text/plain' }, body })
      assert.equal(reply.status, 200)
      const expected = 'one rewritten-by-wasm, '.repeat(2000)
      assert.ok(reply.body === expected, `the app echoed ${reply.body.length} bytes (${JSON.stringify(reply.body.slice(0, 40))}...), not the ${expected.length} rewritten ones`)
    })

    test('the properties plugin reads path, method, identities, route and service; shared data counts', async () => {
      const first = await request(pair.pluginPort, '/props?x=1', { headers: token })
      assert.equal(first.status, 200)
      const h = first.headers
      assert.equal(h['x-prop-request-path'], '/props?x=1')
      assert.equal(h['x-prop-request-method'], 'GET')
      assert.equal(h['x-prop-source-principal'], pair.pki.id('client'))
      assert.equal(h['x-prop-destination-principal'], pair.pki.id('server'))
      // The service has no routes: no route name (the request metrics' route label is empty too).
      assert.equal(h['x-prop-xds-route_name'], '')
      assert.equal(h['x-prop-meshgate-service'], 'web')
      assert.equal(h['x-prop-meshgate-direction'], 'outbound')
      assert.equal(h['x-prop-plugin_name'], 'read-properties')
      assert.equal(h['x-prop-response-code'], '200')
      const second = await request(pair.pluginPort, '/props', { headers: token })
      assert.equal(Number(second.headers['x-request-count']), Number(h['x-request-count']) + 1)
    })

    test('the root context ticks on its timer', async () => {
      let ticks = 0
      for (let i = 0; i < 50 && ticks === 0; i++) {
        ticks = Number((await request(pair.pluginPort, '/', { headers: token })).headers['x-ticks'])
        if (ticks === 0) await new Promise((resolve) => setTimeout(resolve, 100))
      }
      assert.ok(ticks >= 1, `x-ticks ${ticks}`)
    })

    test('h2c through the plugins too', async () => {
      const { connect } = await import('node:http2')
      const session = connect(`http://127.0.0.1:${pair.pluginPort}`)
      try {
        const headers = await new Promise<Record<string, unknown>>((resolve, reject) => {
          const stream = session.request({ ':path': '/', ':authority': 'web.test', ...token })
          stream.setTimeout(10_000, () => stream.destroy(new Error('h2c request timed out')))
          stream.on('response', (h) => { stream.resume(); stream.on('end', () => resolve(h)) })
          stream.on('error', reject)
        })
        assert.equal(headers[':status'], 200)
        assert.equal(headers['x-plugin'], 'from-the-plugin')
      } finally {
        session.close()
      }
    })

    test('the listener without plugins is untouched', async () => {
      const reply = await request(pair.appPort, '/')
      assert.equal(reply.status, 200)
      assert.equal(reply.headers['x-plugin'], undefined)
      assert.equal((JSON.parse(reply.body) as { service: string }).service, 'meshgate-demo')
    })
  })
}

describe('plugins over h3 between the proxies', { skip: h3Skip() }, () => {
  let pair: Pair
  before(async () => {
    await builtPlugins()
    pair = await startPair({ transport: 'h3', outboundPlugins: `[${pluginYaml('add-header')}, ${pluginYaml('rewrite-body', 'config: "meshgate-demo:over-h3"')}]` })
  }, { timeout: 310_000 })
  after(async () => { await pair?.close() })

  test('the header and body plugins run the same on an h3 peer session', async () => {
    const reply = await request(pair.pluginPort, '/')
    assert.equal(reply.status, 200)
    assert.equal(reply.headers['x-plugin'], 'add-header')
    assert.equal((JSON.parse(reply.body) as { service: string }).service, 'over-h3')
  })
})

describe('plugins on the inbound side', () => {
  let pair: Pair
  before(async () => {
    await builtPlugins()
    pair = await startPair({
      inboundPlugins: `[${pluginYaml('add-header', 'config: added-inbound')}, ${pluginYaml('read-properties')}]`,
    })
  }, { timeout: 310_000 })
  after(async () => { await pair?.close() })

  test('the inbound plugins see the caller identity and add their headers to the answer', async () => {
    const reply = await request(pair.appPort, '/in')
    assert.equal(reply.status, 200)
    assert.equal(reply.headers['x-plugin'], 'added-inbound')
    assert.equal(reply.headers['x-prop-meshgate-direction'], 'inbound')
    assert.equal(reply.headers['x-prop-source-principal'], pair.pki.id('client'))
    assert.equal(reply.headers['x-prop-destination-principal'], pair.pki.id('server'))
    assert.equal(reply.headers['x-prop-request-path'], '/in')
  })
})

/** An h2c request to the outbound listener (the inbound side then delivers it over h2c), bounded at 10 s. */
async function h2cRequest (port: number, path: string, body: string): Promise<{ status: number, body: string }> {
  const { connect } = await import('node:http2')
  const session = connect(`http://127.0.0.1:${port}`)
  try {
    return await new Promise((resolve, reject) => {
      const stream = session.request({ ':method': 'POST', ':path': path, ':authority': 'web.test', 'content-type': 'text/plain' })
      stream.setTimeout(10_000, () => stream.destroy(new Error('h2c request timed out')))
      let status = 0
      let text = ''
      stream.setEncoding('utf8')
      stream.on('response', (h) => { status = Number(h[':status']) })
      stream.on('data', (c: string) => { text += c })
      stream.on('end', () => resolve({ status, body: text }))
      stream.on('error', reject)
      stream.end(body)
    })
  } finally {
    session.close()
  }
}

for (const plane of DATA_PLANES) {
  describe(`inbound plugins rewrite the request line and body (${plane.name} data path)`, { skip: plane.skip }, () => {
    let pair: Pair
    before(async () => {
      await builtPlugins()
      // Every `x` doubled, in the request body on its way in and again in the response on its way
      // out: a request body that bypassed the plugins would come back 2×, not 4×, as long.
      pair = await startPair({
        dataPlane: plane.name,
        inboundPlugins: `[${pluginYaml('rewrite-body', 'config: "x:xx"')}, ${pluginYaml('set-request-header', 'config: ":path=/rewritten-inbound"')}]`,
      })
    }, { timeout: 310_000 })
    after(async () => { await pair?.close() })

    test('the workload gets the path the inbound plugin set', async () => {
      const reply = await request(pair.appPort, '/hello')
      assert.equal(reply.status, 200)
      assert.equal((JSON.parse(reply.body) as { path: string }).path, '/rewritten-inbound')
    })

    test('an HTTP/1 workload gets the request body as the inbound plugin rewrote it', async () => {
      const reply = await request(pair.appPort, '/echo', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x'.repeat(5000) })
      assert.equal(reply.status, 200)
      assert.equal(reply.body.length, 20_000, 'rewritten on the way in (2×) and on the way out (2× again)')
      assert.ok(/^x+$/.test(reply.body))
    })

    test('an h2c delivery gets the rewritten request body too', async () => {
      const reply = await h2cRequest(pair.appPort, '/echo', 'x'.repeat(5000))
      assert.equal(reply.status, 200)
      assert.equal(reply.body.length, 20_000)
    })
  })
}
