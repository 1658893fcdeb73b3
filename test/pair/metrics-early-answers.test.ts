// Requests the outbound side answers itself before any endpoint is picked (unknown authority, no
// endpoint, CONNECT on an HTTP listener, a malformed request, a refused Upgrade, over HTTP/1 and
// h2c) are each counted once in meshgate_requests_total with their status and code; a request that
// reaches the workload is still counted exactly once on each side.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import http2 from 'node:http2'
import net from 'node:net'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startPair, type Pair } from '../helpers/pair.js'
import { get } from '../helpers/clients.js'

/** The labels of one sample line, parsed (values without escapes, as meshgate's are). */
function labelsOf (line: string): Map<string, string> {
  const labels = new Map<string, string>()
  const body = line.slice(line.indexOf('{') + 1, line.lastIndexOf('}'))
  for (const m of body.matchAll(/([a-z_]+)="([^"]*)"/g)) labels.set(m[1] ?? '', m[2] ?? '')
  return labels
}

/** Sum of `meshgate_requests_total` samples whose labels equal every `match` pair. */
function requests (text: string, match: Record<string, string>): number {
  let sum = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith('meshgate_requests_total{')) continue
    const labels = labelsOf(line)
    if (Object.entries(match).every(([k, v]) => labels.get(k) === v)) sum += Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return sum
}

/** Writes raw bytes to the app listener and returns the status line's code (5 s bound). */
async function rawStatus (port: number, bytes: string): Promise<number> {
  return await new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => socket.write(bytes))
    let text = ''
    socket.setEncoding('utf8')
    socket.on('data', (c: string) => { text += c })
    socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0)))
    socket.on('error', reject)
    socket.setTimeout(5000, () => socket.destroy(new Error('raw request timed out')))
  })
}

/** One h2c GET with `:authority` = authority on a fresh session; status and meshgate-error (5 s bound). */
async function h2cGet (port: number, authority: string): Promise<{ status: number, error: string | undefined }> {
  const session = http2.connect(`http://127.0.0.1:${port}`)
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('h2c request timed out')), 5000)
      session.on('error', reject)
      const stream = session.request({ ':method': 'GET', ':path': '/', ':authority': authority })
      stream.on('response', (headers) => {
        clearTimeout(timer)
        resolve({ status: Number(headers[':status']), error: headers['meshgate-error'] as string | undefined })
      })
      stream.on('error', reject)
      stream.resume()
    })
  } finally {
    session.close()
  }
}

describe('requests answered before an endpoint is picked are counted', () => {
  let pair: Pair
  let dir = ''
  const metrics = async (side: 'client' | 'server'): Promise<string> => await pair[side].metrics.registry.metrics()

  /** Runs `act` and returns how much `match` and all outbound requests grew on the client. */
  async function delta (act: () => Promise<void>, match: Record<string, string>): Promise<{ matched: number, outbound: number }> {
    const before = await metrics('client')
    await act()
    const after = await metrics('client')
    return {
      matched: requests(after, match) - requests(before, match),
      outbound: requests(after, { direction: 'outbound' }) - requests(before, { direction: 'outbound' }),
    }
  }

  before(async () => {
    // `empty` is served by a discovery file that lists no services: known to the router, no endpoint.
    dir = await mkdtemp(join(tmpdir(), 'meshgate-early-'))
    const registry = join(dir, 'endpoints.yaml')
    await writeFile(registry, 'services: {}\n')
    pair = await startPair({
      moreServices: 'empty: { aliases: [empty.test], source: registry }',
      outboundExtra: `discovery: { sources: { registry: { kind: file, path: "${registry}" } } }\nbalancing: { queue: { maxWaitMs: 50 } }`,
    })
  })
  after(async () => {
    await pair?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('an unknown authority: 404 E_NO_ROUTE, once, with an empty authority label', async () => {
    const d = await delta(async () => {
      const reply = await get(pair.appPort, '/', 'unknown.test', 5000)
      assert.equal(reply.status, 404)
      assert.equal(reply.error, 'E_NO_ROUTE')
    }, { direction: 'outbound', status_code: '404', status_class: '4xx', error_code: 'E_NO_ROUTE', authority: '', transport: '', peer_identity: '' })
    assert.deepEqual(d, { matched: 1, outbound: 1 })
    // The unknown name never becomes a label value.
    assert.equal((await metrics('client')).includes('unknown.test'), false)
  })

  it('a service with no endpoint: 503 E_NO_ENDPOINT, once, under the service\'s authority', async () => {
    const d = await delta(async () => {
      const reply = await get(pair.appPort, '/', 'empty.test', 5000)
      assert.equal(reply.status, 503)
      assert.equal(reply.error, 'E_NO_ENDPOINT')
    }, { direction: 'outbound', status_code: '503', error_code: 'E_NO_ENDPOINT', authority: 'empty.test', identity: pair.pki.id('client') })
    assert.deepEqual(d, { matched: 1, outbound: 1 })
  })

  it('h2c: an unknown authority and a service with no endpoint, once each', async () => {
    const noRoute = await delta(async () => {
      assert.deepEqual(await h2cGet(pair.appPort, 'unknown.test'), { status: 404, error: 'E_NO_ROUTE' })
    }, { direction: 'outbound', status_code: '404', error_code: 'E_NO_ROUTE', authority: '' })
    assert.deepEqual(noRoute, { matched: 1, outbound: 1 })
    const noEndpoint = await delta(async () => {
      assert.deepEqual(await h2cGet(pair.appPort, 'empty.test'), { status: 503, error: 'E_NO_ENDPOINT' })
    }, { direction: 'outbound', status_code: '503', error_code: 'E_NO_ENDPOINT', authority: 'empty.test' })
    assert.deepEqual(noEndpoint, { matched: 1, outbound: 1 })
  })

  it('CONNECT on an HTTP listener and a malformed request: 400 E_BAD_REQUEST, once each', async () => {
    const connect = await delta(async () => {
      assert.equal(await rawStatus(pair.appPort, 'CONNECT web.test:80 HTTP/1.1\r\nhost: web.test:80\r\n\r\n'), 400)
    }, { direction: 'outbound', status_code: '400', error_code: 'E_BAD_REQUEST', authority: '' })
    assert.deepEqual(connect, { matched: 1, outbound: 1 })
    const malformed = await delta(async () => {
      assert.equal(await rawStatus(pair.appPort, 'GET / HTTP/1.1\r\nhost: web.test\r\nbad header line\r\n\r\n'), 400)
    }, { direction: 'outbound', status_code: '400', error_code: 'E_BAD_REQUEST', authority: '' })
    assert.deepEqual(malformed, { matched: 1, outbound: 1 })
  })

  it('an Upgrade to an unknown authority: 404 E_NO_ROUTE, once', async () => {
    const d = await delta(async () => {
      const status = await rawStatus(pair.appPort, 'GET /ws HTTP/1.1\r\nhost: unknown.test\r\nconnection: Upgrade\r\nupgrade: websocket\r\n\r\n')
      assert.equal(status, 404)
    }, { direction: 'outbound', status_code: '404', error_code: 'E_NO_ROUTE', authority: '' })
    assert.deepEqual(d, { matched: 1, outbound: 1 })
  })

  it('an Upgrade the inbound refuses (target not configured): counted once on each side', async () => {
    const serverBefore = await metrics('server')
    let status = 0
    const d = await delta(async () => {
      status = await rawStatus(pair.appPort, 'GET /ws HTTP/1.1\r\nhost: nowhere\r\nconnection: Upgrade\r\nupgrade: websocket\r\n\r\n')
      assert.ok(status >= 400, `refused, got ${status}`)
    }, { direction: 'outbound', authority: 'nowhere' })
    assert.deepEqual(d, { matched: 1, outbound: 1 })
    const serverAfter = await metrics('server')
    const refused = { direction: 'inbound', status_code: String(status), authority: '', identity: pair.pki.id('client') }
    assert.equal(requests(serverAfter, refused) - requests(serverBefore, refused), 1)
    assert.equal(requests(serverAfter, { direction: 'inbound' }) - requests(serverBefore, { direction: 'inbound' }), 1)
  })

  it('a request that reaches the workload is counted exactly once on each side', async () => {
    const serverBefore = requests(await metrics('server'), { direction: 'inbound' })
    const d = await delta(async () => {
      assert.equal((await get(pair.appPort, '/status/201', 'web.test', 5000)).status, 201)
    }, { direction: 'outbound', status_code: '201', error_code: '', authority: 'web.test', transport: 'h2', peer_identity: pair.pki.id('server') })
    assert.deepEqual(d, { matched: 1, outbound: 1 })
    assert.equal(requests(await metrics('server'), { direction: 'inbound' }) - serverBefore, 1)
    assert.equal(requests(await metrics('server'), { direction: 'inbound', status_code: '201' }), 1)
  })
})
