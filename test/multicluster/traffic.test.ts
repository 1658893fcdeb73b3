// Every traffic kind across two clusters (west outbound → east gateway → east inbound), as three
// real processes: HTTP/1, h2c, WebSocket, TCP (each 100 MB each way, checksummed), end to end by
// default and through an export in terminate mode; the gateway's tap and metrics show only the
// tunnel of an e2e stream, never its HTTP requests. Once with h3 west ↔ gateway (h2 gateway ↔
// east), once all on h2 on the JS data plane.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import http from 'node:http'
import http2 from 'node:http2'
import net from 'node:net'
import { WebSocket } from 'ws'
import { get, tcpRoundTrip } from '../helpers/clients.js'
import { eventually, startClusters, type Clusters } from '../helpers/clusters.js'
import { metricSum, metricsText } from '../helpers/meshgate-process.js'
import { patternStream } from '../helpers/streams.js'
import { NdjsonReader } from '../admin/ndjson.js'
import { h3Skip, nativeSkip } from '../helpers/transports.js'

const CLIENT = 'spiffe://west.local/ns/default/sa/client'
const GATEWAY = 'spiffe://east.local/ns/default/sa/gateway'
const MB = 1024 * 1024

interface Variant {
  label: string
  /** West → gateway. */
  transport: 'h2' | 'h3'
  dataPlane?: 'js' | 'native'
  h3Listeners?: boolean
  /** Gateway → east inbound in terminate mode (e2e is always the inner h2 session over TCP). */
  eastTransport?: 'h2' | 'h3'
  skip: string | false
}

const VARIANTS: Variant[] = [
  { label: 'h3 west ↔ gateway, h2 gateway ↔ east', transport: 'h3', skip: h3Skip() },
  { label: 'h2 all the way, JS data plane', transport: 'h2', dataPlane: 'js', h3Listeners: false, skip: false },
  { label: 'h2 west ↔ gateway on the native data plane, h3 gateway ↔ east in terminate mode', transport: 'h2', dataPlane: 'native', eastTransport: 'h3', skip: nativeSkip() || h3Skip() },
]

/** Sends `size` pattern bytes to `port` (then FIN) and hashes what comes back until the close; 120 s bound. */
async function tcpTransfer (port: number, size: number): Promise<{ sent: string, received: string, bytes: number }> {
  const source = patternStream(size, 7)
  const hash = createHash('sha256')
  let bytes = 0
  await new Promise<void>((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true })
    const timer = setTimeout(() => socket.destroy(new Error('transfer took longer than 120 s')), 120_000)
    socket.on('data', (c: Buffer) => { bytes += c.length; hash.update(c) })
    socket.on('error', (err) => { clearTimeout(timer); reject(err) })
    socket.on('close', () => { clearTimeout(timer); resolve() })
    socket.on('connect', () => source.stream.pipe(socket))
  })
  return { sent: source.sha256(), received: hash.digest('hex'), bytes }
}

/** A GET with HTTP/2 prior knowledge (h2c) to the outbound listener. */
async function h2cGet (port: number, authority: string, path: string): Promise<{ status: number, body: string }> {
  const client = http2.connect(`http://127.0.0.1:${port}`)
  try {
    return await new Promise((resolve, reject) => {
      const req = client.request({ ':path': path, ':authority': authority })
      let status = 0
      let body = ''
      req.setTimeout(10_000, () => req.destroy(new Error('h2c request timed out')))
      req.on('response', (h) => { status = Number(h[':status']) })
      req.setEncoding('utf8')
      req.on('data', (c: string) => { body += c })
      req.on('end', () => resolve({ status, body }))
      req.on('error', reject)
    })
  } finally {
    client.close()
  }
}

/** POSTs `size` pattern bytes with HTTP/2 prior knowledge (h2c) and hashes the echoed body; 120 s bound. */
async function h2cPostEcho (port: number, authority: string, size: number): Promise<{ status: number, sent: string, received: string, bytes: number, protocol: string }> {
  const client = http2.connect(`http://127.0.0.1:${port}`)
  const source = patternStream(size, 5)
  const hash = createHash('sha256')
  let bytes = 0
  try {
    return await new Promise((resolve, reject) => {
      const req = client.request({ ':method': 'POST', ':path': '/echo', ':authority': authority })
      let status = 0
      const timer = setTimeout(() => req.destroy(new Error('h2c echo took longer than 120 s')), 120_000)
      req.on('response', (h) => { status = Number(h[':status']) })
      req.on('data', (c: Buffer) => { bytes += c.length; hash.update(c) })
      req.on('end', () => { clearTimeout(timer); resolve({ status, sent: source.sha256(), received: hash.digest('hex'), bytes, protocol: 'h2c' }) })
      req.on('error', (err) => { clearTimeout(timer); reject(err) })
      source.stream.pipe(req)
    })
  } finally {
    client.close()
  }
}

/** Sends `size` bytes as 1 MiB binary WebSocket messages and hashes the echoes; 120 s bound. */
async function wsEcho (port: number, host: string, size: number): Promise<{ sent: string, received: string, bytes: number }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/bulk`, { headers: { host }, handshakeTimeout: 10_000, maxPayload: 2 * MB })
  const sent = createHash('sha256')
  const received = createHash('sha256')
  let bytes = 0
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('WebSocket echo took longer than 120 s')), 120_000)
      ws.on('error', (err) => { clearTimeout(timer); reject(err) })
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        if (!isBinary) return // the workload's greeting
        bytes += data.length
        received.update(data)
        if (bytes >= size) { clearTimeout(timer); resolve() }
      })
      ws.once('open', () => {
        for (let i = 0; i * MB < size; i++) {
          const message = Buffer.alloc(Math.min(MB, size - i * MB), (i * 31) & 0xff)
          message.writeUInt32LE(i, 0)
          sent.update(message)
          ws.send(message, { binary: true })
        }
      })
    })
  } finally {
    ws.terminate()
  }
  return { sent: sent.digest('hex'), received: received.digest('hex'), bytes }
}

/** POSTs `size` pattern bytes and hashes the echoed body. */
async function postEcho (port: number, host: string, size: number): Promise<{ status: number, sent: string, received: string }> {
  const source = patternStream(size, 3)
  const hash = createHash('sha256')
  return await new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method: 'POST', path: '/echo', headers: { host }, agent: false }, (res) => {
      res.on('data', (c: Buffer) => hash.update(c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, sent: source.sha256(), received: hash.digest('hex') }))
    })
    req.setTimeout(120_000, () => req.destroy(new Error('POST timed out')))
    req.on('error', reject)
    source.stream.pipe(req)
  })
}

for (const variant of VARIANTS) {
  describe(`two clusters through the gateway: ${variant.label}`, { skip: variant.skip, timeout: 300_000 }, () => {
    let c: Clusters
    let tap: NdjsonReader
    before(async () => {
      c = await startClusters({ transport: variant.transport, dataPlane: variant.dataPlane, h3Listeners: variant.h3Listeners, eastTransport: variant.eastTransport })
      // The gateway's tap, from before any traffic: every event it sees is recorded.
      tap = new NdjsonReader(await fetch(`http://127.0.0.1:${c.ports.gatewayAdmin}/tap?limit=1000`))
      await tap.until((lines) => lines.some((l) => l.type === 'tap'))
    })
    after(async () => {
      await tap?.cancel().catch(() => {})
      await c?.close()
    })

    it('HTTP/1: the east workload answers and sees the west caller', async () => {
      let reply = await get(c.ports.app, '/hello', 'web.east')
      // West learns the exports within a refresh (300 ms) of start.
      for (let i = 0; i < 30 && reply.status !== 200; i++) {
        await new Promise((resolve) => setTimeout(resolve, 200))
        reply = await get(c.ports.app, '/hello', 'web.east')
      }
      assert.equal(reply.status, 200, reply.body)
      const body = JSON.parse(reply.body) as { caller: string, path: string, protocol: string }
      assert.equal(body.caller, CLIENT)
      assert.equal(body.path, '/hello')
      assert.equal(body.protocol, 'HTTP/1.1')
    })

    it('h2c: HTTP/2 from the app stays HTTP/2 to the workload', async () => {
      const reply = await h2cGet(c.ports.app, 'web.east', '/h2c')
      assert.equal(reply.status, 200)
      const body = JSON.parse(reply.body) as { caller: string, protocol: string }
      assert.equal(body.caller, CLIENT)
      assert.equal(body.protocol, 'HTTP/2.0')
    })

    it('HTTP/1: a 100 MB request body and its 100 MB echo arrive intact', async () => {
      const reply = await postEcho(c.ports.app, 'web.east', 100 * MB)
      assert.equal(reply.status, 200)
      assert.equal(reply.received, reply.sent)
    })

    it('h2c: a 100 MB request body and its 100 MB echo arrive intact', async () => {
      const reply = await h2cPostEcho(c.ports.app, 'web.east', 100 * MB)
      assert.equal(reply.status, 200)
      assert.equal(reply.bytes, 100 * MB)
      assert.equal(reply.received, reply.sent)
    })

    it('WebSocket: 100 MB each way in 1 MiB messages, checksums equal', async () => {
      const result = await wsEcho(c.ports.app, 'ws.east', 100 * MB)
      assert.equal(result.bytes, 100 * MB)
      assert.equal(result.received, result.sent)
    })

    it('WebSocket: upgrade, the workload sees the west caller, messages echo', async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${c.ports.app}/chat`, { headers: { host: 'ws.east' }, handshakeTimeout: 10_000 })
      const messages: string[] = []
      const got = (n: number): Promise<void> => new Promise((resolve) => {
        const check = (): void => { if (messages.length >= n) resolve() }
        ws.on('message', (data) => { messages.push((data as Buffer).toString()); check() })
        check()
      })
      const first = got(3)
      await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
      ws.send('one')
      ws.send('x'.repeat(100_000))
      await first
      ws.close()
      assert.equal(messages[0], `caller ${CLIENT}`)
      assert.equal(messages[1], 'one')
      assert.equal(messages[2].length, 100_000)
    })

    it('TCP: 100 MB each way through the e2e tunnel, checksums equal', async () => {
      const result = await tcpTransfer(c.ports.app, 100 * MB)
      assert.equal(result.bytes, 100 * MB)
      assert.equal(result.received, result.sent)
    })

    it('the gateway saw only tunnels of e2e streams: no request, no path, on its tap and in its metrics', async () => {
      // A terminate-mode request afterwards shows what the tap would show of a readable request.
      const term = await get(c.ports.app, '/visible-at-gateway', 'term.east')
      assert.equal(term.status, 200)
      const lines = await tap.until((all) => all.some((l) => l.type === 'request'), 10_000)
      const requests = lines.filter((l) => l.type === 'request')
      assert.deepEqual(requests.map((l) => [l.authority, l.path]), [['term.east', '/visible-at-gateway']])
      const tunnels = lines.filter((l) => l.type === 'tunnel')
      assert.ok(tunnels.length > 0)
      for (const t of tunnels) {
        assert.ok(['web', 'ws', 'echo'].includes(t.authority as string), JSON.stringify(t))
        assert.equal(t.identity, CLIENT)
        assert.equal(t.direction, 'gateway')
        assert.equal(t.path, undefined)
      }
      for (const path of ['/hello', '/h2c', '/echo', '/chat']) assert.ok(!JSON.stringify(lines).includes(path), `${path} on the gateway's tap`)
      const metrics = await metricsText(c.ports.gatewayAdmin)
      assert.equal(metricSum(metrics, 'meshgate_requests_total', { direction: 'gateway' }), 1, 'only the terminate request')
      assert.equal(metricSum(metrics, 'meshgate_requests_total', { direction: 'gateway', authority: 'term.east' }), 1)
      assert.ok(!metrics.includes('authority="web.east"') && !metrics.includes('authority="ws.east"'))
      const west = await metricsText(c.ports.westAdmin)
      assert.ok(metricSum(west, 'meshgate_remote_cluster_streams_total', { cluster: 'east', mode: 'e2e', kind: 'request' }) >= 3)
      assert.ok(metricSum(west, 'meshgate_remote_cluster_streams_total', { cluster: 'east', mode: 'e2e', kind: 'tunnel' }) >= 2)
      assert.ok(metricSum(west, 'meshgate_remote_cluster_inner_sessions_total', { cluster: 'east', result: 'ok' }) >= 3)
      assert.equal(metricSum(west, 'meshgate_remote_cluster_exported_services', { cluster: 'east' }), 5)
      const outer = variant.transport
      assert.ok(metricSum(west, 'meshgate_transport_sessions_total', { transport: outer, side: 'client' }) >= 1)
    })

    it('terminate mode: the gateway re-originates under its own identity, HTTP and TCP', async () => {
      const reply = await get(c.ports.app, '/t', 'term.east')
      assert.equal(reply.status, 200)
      assert.equal((JSON.parse(reply.body) as { caller: string }).caller, GATEWAY)
      assert.equal(await tcpRoundTrip(c.ports.appTcpTerm, 'through the terminating gateway'), 'through the terminating gateway')
      const metrics = await metricsText(c.ports.gatewayAdmin)
      assert.ok(metricSum(metrics, 'meshgate_gateway_streams_total', { service: 'web-term', mode: 'terminate', kind: 'request', result: 'ok' }) >= 1)
      assert.ok(metricSum(metrics, 'meshgate_gateway_streams_total', { service: 'echo-term', mode: 'terminate', kind: 'tunnel', result: 'ok' }) >= 1)
      // The gateway bridges: it took the caller's session over one transport and dials east over the endpoint's.
      assert.ok(metricSum(metrics, 'meshgate_transport_sessions_total', { transport: variant.transport, side: 'server' }) >= 1)
      assert.ok(metricSum(metrics, 'meshgate_transport_sessions_total', { transport: variant.eastTransport ?? 'h2', side: 'client' }) >= 1)
    })

    it('once west is gone its e2e tunnels close, and the gateway counts the 100 MB each way it relayed unread', async () => {
      // An e2e tunnel carries a pooled inner session: it lives as long as the west sidecar's session.
      await c.stop('west')
      let metrics = ''
      await eventually(async () => {
        metrics = await metricsText(c.ports.gatewayAdmin)
        return metricSum(metrics, 'meshgate_gateway_streams_total', { service: 'echo', mode: 'e2e', kind: 'tunnel' }) >= 1
      }, 'the echo tunnel to close at the gateway')
      assert.ok(metricSum(metrics, 'meshgate_gateway_tunnel_bytes_total', { service: 'echo', mode: 'e2e', direction: 'from_caller' }) >= 100 * MB)
      assert.ok(metricSum(metrics, 'meshgate_gateway_tunnel_bytes_total', { service: 'echo', mode: 'e2e', direction: 'to_caller' }) >= 100 * MB)
      assert.equal(metricSum(metrics, 'meshgate_requests_total', { direction: 'gateway' }), 2, 'still only the two terminate requests')
    })
  })
}
