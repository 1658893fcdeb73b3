// runTop against a real admin server: the per-authority table from /metrics deltas.
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { after, before, test } from 'node:test'
import { runTop } from '../../src/top.js'
import { startHarness, type Harness } from '../admin/harness.js'
import { requestEvent } from './events.js'

let h: Harness
before(async () => { h = await startHarness() })
after(async () => { await h.admin.close() })

test('renders rate, success, p50 and p99 per authority', async () => {
  let text = ''
  const output = new Writable({ write (chunk: Buffer, _e, cb) { text += chunk.toString(); cb() } })
  const traffic = setInterval(() => {
    for (let i = 0; i < 9; i++) h.metrics.telemetry.request(requestEvent({ authority: 'web.demo', durationSeconds: 0.004 }))
    h.metrics.telemetry.request(requestEvent({ authority: 'web.demo', status: 503, durationSeconds: 0.004 }))
    h.metrics.telemetry.request(requestEvent({ authority: 'api.demo', status: 200, durationSeconds: 0.04 }))
  }, 10)
  try {
    await runTop({ adminUrl: h.admin.url, intervalMs: 200, iterations: 2, output })
  } finally {
    clearInterval(traffic)
  }
  const frames = text.split('meshgate top ·').filter((f) => f !== '')
  assert.equal(frames.length, 2)
  const last = frames[1].split('\n')
  assert.match(last[2], /^AUTHORITY\s+DIRECTION\s+RPS\s+SUCCESS\s+P50\s+P99\s+ROUTE$/)
  const web = last.find((l) => l.startsWith('web.demo'))
  const api = last.find((l) => l.startsWith('api.demo'))
  assert.ok(web !== undefined && api !== undefined, frames[1])
  const webCells = web.split(/\s{2,}/)
  assert.equal(webCells[1], 'outbound')
  assert.match(webCells[3], /^(8\d|9\d)\.\d%$/, `success ≈ 90%: ${web}`)
  assert.match(webCells[4], /ms$/)
  assert.match(api.split(/\s{2,}/)[3], /^100%$/)
  assert.ok(last.indexOf(web) < last.indexOf(api), 'busiest first')
})

test('a wrong admin URL rejects at once', async () => {
  await assert.rejects(runTop({ adminUrl: 'http://127.0.0.1:1', iterations: 1 }))
})
