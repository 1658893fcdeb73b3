// Metrics and the tap after known real traffic through a meshgate pair (HTTP/1 and TCP), read
// from both proxies' admin servers.
import assert from 'node:assert/strict'
import http from 'node:http'
import net from 'node:net'
import { after, before, test } from 'node:test'
import { startPair, type Pair } from '../helpers/pair.js'
import { parseMetricsText, type Sample } from '../../src/metrics/text-format.js'
import { NdjsonReader } from './ndjson.js'

let pair: Pair
before(async () => { pair = await startPair() })
after(async () => { await pair.close() })

function adminUrl (side: 'client' | 'server'): string {
  const a = pair[side].adminAddress
  assert.ok(a !== undefined)
  return `http://127.0.0.1:${a.port}`
}

async function scrape (side: 'client' | 'server'): Promise<Sample[]> {
  return parseMetricsText(await (await fetch(`${adminUrl(side)}/metrics`)).text())
}

function sum (samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((n, s) => n + s.value, 0)
}

async function get (path: string): Promise<{ status: number, bytes: number }> {
  return await new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: pair.appPort, path, headers: { host: 'web.test' }, agent: false }, (res) => {
      let bytes = 0
      res.on('data', (c: Buffer) => { bytes += c.length })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, bytes }) })
    }).on('error', reject)
  })
}

async function echo (payload: Buffer): Promise<number> {
  return await new Promise((resolve, reject) => {
    const socket = net.connect(pair.tcpPort, '127.0.0.1', () => { socket.end(payload) })
    let got = 0
    socket.on('data', (c: Buffer) => { got += c.length })
    socket.on('end', () => { resolve(got) })
    socket.on('error', reject)
  })
}

async function eventually (check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

test('counts, latency and bytes match the traffic sent; the tap sees each request', async () => {
  const tapRes = await fetch(`${adminUrl('client')}/tap?pathPrefix=/metrics-test/&limit=12`)
  const tap = new NdjsonReader(tapRes)
  await tap.until((l) => l.length >= 1)

  const n = 12
  let bodyBytes = 0
  for (let i = 0; i < n; i++) {
    const r = await get(`/metrics-test/${i}`)
    assert.equal(r.status, 200)
    bodyBytes += r.bytes
  }
  bodyBytes += (await get('/not-tapped')).bytes
  const payload = Buffer.alloc(200_000, 7)
  assert.equal(await echo(payload), payload.length)

  // Response-end and tunnel-close events land just after the client saw the end.
  let client: Sample[] = []
  await eventually(async () => {
    client = await scrape('client')
    return sum(client, 'meshgate_tcp_close_total') === 1 && sum(client, 'meshgate_responses_total') === n + 1
  })
  const out = { direction: 'outbound' }
  assert.equal(sum(client, 'meshgate_requests_total', out), n + 1)
  assert.equal(sum(client, 'meshgate_requests_total', { ...out, status_code: '200', transport: 'h2' }), n + 1)
  const authorities = new Set(client.filter((s) => s.name === 'meshgate_requests_total').map((s) => s.labels.authority))
  assert.equal(authorities.size, 1)
  assert.match([...authorities][0], /^web\.test/)
  assert.equal(sum(client, 'meshgate_request_duration_seconds_count', out), n + 1)
  assert.equal(sum(client, 'meshgate_request_duration_seconds_bucket', { ...out, le: '+Inf' }), n + 1)
  assert.ok(sum(client, 'meshgate_request_duration_seconds_bucket', { ...out, le: '10' }) === n + 1, 'no loopback request takes 10 s')
  assert.equal(sum(client, 'meshgate_response_body_bytes_total', out), bodyBytes)

  assert.equal(sum(client, 'meshgate_tcp_open_total', { ...out, authority: 'echo' }), 1)
  assert.equal(sum(client, 'meshgate_tcp_close_total', { ...out, error_code: '' }), 1)
  assert.equal(sum(client, 'meshgate_tcp_open_connections'), 0)
  assert.equal(sum(client, 'meshgate_tcp_read_bytes_total', out), payload.length)
  assert.equal(sum(client, 'meshgate_tcp_write_bytes_total', out), payload.length)
  assert.ok(sum(client, 'meshgate_transport_sessions_open', { transport: 'h2', side: 'client' }) >= 1)
  assert.ok(sum(client, 'meshgate_transport_streams_total', { transport: 'h2', side: 'client' }) >= n + 2)
  assert.ok(sum(client, 'meshgate_transport_handshakes_total', { transport: 'h2', side: 'client', result: 'ok' }) >= 1)

  const server = await scrape('server')
  assert.equal(sum(server, 'meshgate_requests_total', { direction: 'inbound', identity: pair.pki.id('client') }), n + 1)
  assert.equal(sum(server, 'meshgate_tcp_open_total', { direction: 'inbound' }), 1)

  const lines = await tap.until(() => false)
  const requests = lines.filter((l) => l.type === 'request')
  assert.equal(requests.length, n)
  assert.deepEqual(requests.map((r) => r.path), Array.from({ length: n }, (_, i) => `/metrics-test/${i}`))
  assert.ok(requests.every((r) => r.direction === 'outbound' && r.status === 200 && r.peerIdentity === pair.pki.id('server')))
})
