// Admin endpoints over real HTTP on 127.0.0.1:0: metrics, health, shutdown, config, routing errors.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { requestEvent } from '../metrics/events.js'
import { startHarness, type Harness } from './harness.js'

let h: Harness

before(async () => {
  h = await startHarness({
    config: {
      admin: { host: '127.0.0.1', port: 4191 },
      outbound: { tls: { ca: '/pki/ca.crt', cert: '/pki/a.crt', key: '/pki/a.key' } },
      clients: [{ token: 'abc', password: 'hunter2', apiKey: 'k', name: 'x' }],
    },
  })
})
after(async () => { await h.admin.close() })

test('binds to loopback by default', () => {
  assert.equal(h.admin.address.host, '127.0.0.1')
  assert.ok(h.admin.address.port > 0)
  assert.equal(h.admin.url, `http://127.0.0.1:${h.admin.address.port}`)
})

test('GET /metrics serves the registry in the text format', async () => {
  h.metrics.telemetry.request(requestEvent({ authority: 'metrics.test' }))
  const res = await fetch(`${h.admin.url}/metrics`)
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0.0.4/)
  const text = await res.text()
  assert.match(text, /^meshgate_requests_total\{[^}]*authority="metrics.test"[^}]*\} 1$/m)
})

test('GET /ready follows ready(); /live is always 200', async () => {
  let res = await fetch(`${h.admin.url}/ready`)
  assert.equal(res.status, 503)
  assert.equal(await res.text(), 'not ready\n')
  h.state.ready = true
  res = await fetch(`${h.admin.url}/ready`)
  assert.equal(res.status, 200)
  assert.equal(await res.text(), 'ready\n')
  res = await fetch(`${h.admin.url}/live`)
  assert.equal(res.status, 200)
})

test('POST /shutdown answers 202, then calls onShutdown once; GET is 405', async () => {
  let res = await fetch(`${h.admin.url}/shutdown`)
  assert.equal(res.status, 405)
  assert.equal(res.headers.get('allow'), 'POST')
  await res.text()
  assert.equal(h.state.shutdowns, 0)
  res = await fetch(`${h.admin.url}/shutdown`, { method: 'POST' })
  assert.equal(res.status, 202)
  await res.text()
  res = await fetch(`${h.admin.url}/shutdown`, { method: 'POST' })
  assert.equal(res.status, 202)
  await res.text()
  await sleep(20)
  assert.equal(h.state.shutdowns, 1)
})

test('a cross-origin POST is refused', async () => {
  const res = await fetch(`${h.admin.url}/shutdown`, { method: 'POST', headers: { origin: 'http://evil.example' } })
  assert.equal(res.status, 403)
  await res.text()
})

test('a foreign Host (DNS rebinding) is refused', async () => {
  const http = await import('node:http')
  const status = await new Promise<number>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: h.admin.address.port, path: '/config', headers: { host: 'evil.example:4191' } }, (res) => {
      res.resume()
      resolve(res.statusCode ?? 0)
    }).on('error', reject)
  })
  assert.equal(status, 403)
})

test('GET /config serves JSON with secrets redacted', async () => {
  const res = await fetch(`${h.admin.url}/config`)
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/)
  const body = await res.json() as Record<string, any>
  assert.deepEqual(body.admin, { host: '127.0.0.1', port: 4191 })
  assert.deepEqual(body.outbound.tls, { ca: '/pki/ca.crt', cert: '/pki/a.crt', key: '[redacted]' })
  assert.deepEqual(body.clients, [{ token: '[redacted]', password: '[redacted]', apiKey: '[redacted]', name: 'x' }])
})

test('unknown paths are 404, wrong methods 405', async () => {
  let res = await fetch(`${h.admin.url}/nope`)
  assert.equal(res.status, 404)
  await res.text()
  res = await fetch(`${h.admin.url}/metrics`, { method: 'DELETE' })
  assert.equal(res.status, 405)
  assert.equal(res.headers.get('allow'), 'GET')
  await res.text()
})

test('GET / serves the dashboard page and its script', async () => {
  let res = await fetch(`${h.admin.url}/`)
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /^text\/html/)
  await res.text()
  res = await fetch(`${h.admin.url}/dashboard.js`)
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /^text\/javascript/)
  await res.text()
})
