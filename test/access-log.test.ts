// The access log: off by default, one line per request and per tunnel when on, sampled.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import net from 'node:net'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { accessLog } from '../src/access-log.js'
import { noopTelemetry, type RequestEvent } from '../src/telemetry.js'
import { startPair } from './helpers/pair.js'

function capture (): { lines: Array<Record<string, unknown>>, logger: pino.Logger } {
  const lines: Array<Record<string, unknown>> = []
  const sink = new Writable({ write (chunk: Buffer, _enc, done) { lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>); done() } })
  return { lines, logger: pino({ level: 'info' }, sink) }
}

const EVENT: RequestEvent = {
  direction: 'outbound',
  protocol: 'http1',
  authority: 'a',
  method: 'GET',
  path: '/',
  identity: 'spiffe://x/ns/a/sa/b',
  peerIdentity: 'spiffe://x/ns/a/sa/c',
  transport: 'h2',
  status: 200,
  durationSeconds: 0.0012,
  requestId: 'r1',
}

describe('access log', () => {
  it('is off by default and when the sample rate is 0', () => {
    const { logger } = capture()
    assert.equal(accessLog(logger, { enabled: false, sampleRate: 1 }), noopTelemetry)
    assert.equal(accessLog(logger, { enabled: true, sampleRate: 0 }), noopTelemetry)
  })

  it('logs the share of requests the sample rate asks for', async () => {
    const { lines, logger } = capture()
    let n = 0
    const log = accessLog(logger, { enabled: true, sampleRate: 0.25, random: () => (n++ % 4) / 4 })
    for (let i = 0; i < 100; i++) log.request({ ...EVENT, requestId: `r${i}` })
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(lines.length, 25)
    assert.equal(lines[0]?.msg, 'request')
    assert.equal(lines[0]?.requestId, 'r0')
    assert.equal(lines[0]?.durationMs, 1.2)
  })

  it('logs requests with their id, status and caller, and closed tunnels with their bytes, through a pair', async () => {
    const { lines, logger } = capture()
    const pair = await startPair({ outboundExtra: 'log: { level: info, access: true }', clientLogger: logger })
    try {
      const status = await new Promise<number>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port: pair.appPort, path: '/status/404', headers: { host: 'web.test', 'x-request-id': 'req-42' } }, (res) => {
          res.resume()
          res.on('end', () => resolve(res.statusCode ?? 0))
        }).on('error', reject)
      })
      assert.equal(status, 404)
      const socket = net.connect({ host: '127.0.0.1', port: pair.tcpPort, allowHalfOpen: true }, () => socket.end('abc'))
      socket.resume()
      await new Promise((resolve) => socket.on('close', resolve))
      await new Promise((resolve) => setTimeout(resolve, 50))
      const access = lines.filter((l) => l.component === 'access')
      const request = access.find((l) => l.msg === 'request')
      assert.ok(request !== undefined, 'one line for the request')
      assert.equal(request.requestId, 'req-42', 'the app\'s x-request-id is the request id')
      assert.equal(request.status, 404)
      assert.equal(request.identity, pair.pki.id('client'))
      assert.equal(request.peerIdentity, pair.pki.id('server'))
      const tunnel = access.find((l) => l.msg === 'tunnel')
      assert.ok(tunnel !== undefined, 'one line for the tunnel')
      assert.equal(tunnel.bytesIn, 3)
      assert.equal(tunnel.bytesOut, 3)
      assert.equal(access.length, 2)
    } finally {
      await pair.close()
    }
  })
})
