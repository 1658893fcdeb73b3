// The outbound idle timeout on an HTTP response: no bytes either way for idleMs ends it, as
// E_IDLE_TIMEOUT in the metrics; bytes that keep moving keep it alive.
import assert from 'node:assert/strict'
import http from 'node:http'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { startPair, type Pair } from '../helpers/pair.js'
import { DATA_PLANES } from '../helpers/transports.js'

/** POSTs to the echo workload, writing the chunks `writes` says when; resolves when the response ends or breaks. */
async function echo (port: number, writes: (req: http.ClientRequest) => Promise<void>): Promise<{ complete: boolean, body: string, endedAt: number }> {
  return await new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/echo', method: 'POST', headers: { host: 'web.test', 'content-type': 'text/plain' }, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => resolve({ complete: res.complete, body, endedAt: performance.now() }))
      res.on('error', () => resolve({ complete: false, body, endedAt: performance.now() }))
      res.on('aborted', () => resolve({ complete: false, body, endedAt: performance.now() }))
    })
    req.on('error', (err) => { if (err.message.includes('socket hang up') === false) reject(err) })
    req.flushHeaders()
    writes(req).catch(reject)
  })
}

for (const plane of DATA_PLANES) {
  describe(`HTTP idle timeout on the outbound side (${plane.name} data plane)`, { skip: plane.skip }, () => {
    let pair: Pair
    before(async () => { pair = await startPair({ dataPlane: plane.name, outboundExtra: 'timeouts: { idleMs: 300ms }' }) })
    after(async () => { await pair.close() })

    it('ends a response whose bytes stopped, after idleMs, with E_IDLE_TIMEOUT', async () => {
      let lastWrite = 0
      const result = await echo(pair.appPort, async (req) => {
        req.write('hello')
        lastWrite = performance.now()
      // …and nothing more: the echo's body stalls with the upload.
      })
      assert.equal(result.complete, false)
      assert.equal(result.body, 'hello')
      assert.ok(result.endedAt - lastWrite >= 250, `ended ${Math.round(result.endedAt - lastWrite)} ms after the last byte`)
      const text = await pair.client.metrics.registry.metrics()
      assert.match(text, /meshgate_responses_total\{[^}]*direction="outbound"[^}]*error_code="E_IDLE_TIMEOUT"[^}]*\} 1/)
    })

    it('keeps a response alive while bytes keep moving', async () => {
      const result = await echo(pair.appPort, async (req) => {
        for (let i = 0; i < 8; i++) {
          req.write(`${i}`)
          await sleep(100)
        }
        req.end()
      })
      assert.equal(result.complete, true)
      assert.equal(result.body, '01234567')
    })
  })
}
