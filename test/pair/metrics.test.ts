// Metrics after known traffic through the pair: counts exact, statuses real, body bytes equal to what was sent.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import net from 'node:net'
import { startPair, type Pair } from '../helpers/pair.js'
import { get } from '../helpers/clients.js'

function post (port: number, path: string, body: Buffer): Promise<{ status: number, bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: 'POST', headers: { host: 'web.test', 'content-length': body.length }, agent: false }, (res) => {
      let bytes = 0
      res.on('data', (c: Buffer) => { bytes += c.length })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }))
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** Sum of a metric's samples whose labels include every `match` pair. */
function sample (text: string, name: string, match: Record<string, string>): number {
  let sum = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue
    const labels = line.slice(name.length + 1, line.lastIndexOf('}'))
    if (Object.entries(match).every(([k, v]) => labels.includes(`${k}="${v}"`))) sum += Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return sum
}

describe('metrics after known traffic', () => {
  let pair: Pair
  let clientMetrics = ''
  let serverMetrics = ''
  before(async () => {
    pair = await startPair()
    for (let i = 0; i < 3; i++) assert.equal((await get(pair.appPort, '/status/418')).status, 418)
    for (let i = 0; i < 2; i++) assert.equal((await post(pair.appPort, '/echo', Buffer.alloc(10_000, 1))).bytes, 10_000)
    await new Promise<void>((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port: pair.tcpPort, allowHalfOpen: true }, () => s.end(Buffer.alloc(5000, 2)))
      s.resume()
      s.on('close', () => resolve())
      s.on('error', reject)
    })
    await new Promise((resolve) => setTimeout(resolve, 100))
    clientMetrics = await pair.client.metrics.registry.metrics()
    serverMetrics = await pair.server.metrics.registry.metrics()
  })
  after(async () => { await pair.close() })

  it('counts requests by direction and the real status on both sides', () => {
    for (const [text, direction] of [[clientMetrics, 'outbound'], [serverMetrics, 'inbound']] as const) {
      assert.equal(sample(text, 'meshgate_requests_total', { direction, status_code: '418' }), 3, `${direction} 418s`)
      assert.equal(sample(text, 'meshgate_requests_total', { direction, status_code: '200' }), 2, `${direction} 200s`)
      assert.equal(sample(text, 'meshgate_responses_total', { direction, status_code: '418' }), 3, `${direction} 418 responses`)
    }
  })

  it('labels outbound traffic with the caller, the peer identity and the transport', () => {
    const labels = { direction: 'outbound', identity: pair.pki.id('client'), peer_identity: pair.pki.id('server'), transport: 'h2' }
    assert.equal(sample(clientMetrics, 'meshgate_requests_total', labels), 5)
    assert.equal(sample(clientMetrics, 'meshgate_responses_total', labels), 5)
  })

  it('counts body bytes equal to what was sent, both ways, on both sides', () => {
    for (const [text, direction] of [[clientMetrics, 'outbound'], [serverMetrics, 'inbound']] as const) {
      assert.equal(sample(text, 'meshgate_request_body_bytes_total', { direction }), 20_000, `${direction} request bytes`)
      assert.ok(sample(text, 'meshgate_response_body_bytes_total', { direction }) >= 20_000, `${direction} response bytes`)
    }
  })

  it('counts the TCP tunnel and its bytes', () => {
    assert.equal(sample(clientMetrics, 'meshgate_tcp_open_total', { direction: 'outbound' }), 1)
    assert.equal(sample(clientMetrics, 'meshgate_tcp_close_total', { direction: 'outbound' }), 1)
    assert.equal(sample(clientMetrics, 'meshgate_tcp_read_bytes_total', { direction: 'outbound' }) + sample(clientMetrics, 'meshgate_tcp_write_bytes_total', { direction: 'outbound' }), 10_000)
  })
})

describe('metrics switched off in the config', () => {
  it('exports no meshgate_ families, and traffic still flows', async () => {
    const pair = await startPair({ outboundExtra: 'metrics: { enabled: false }' })
    try {
      assert.equal((await get(pair.appPort, '/')).status, 200)
      const text = await pair.client.metrics.registry.metrics()
      assert.equal(text.includes('meshgate_'), false)
    } finally {
      await pair.close()
    }
  })
})
