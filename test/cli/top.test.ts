// `meshgate top` renders a running proxy's per-authority table from its admin server.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { fileURLToPath } from 'node:url'
import { startPair, type Pair } from '../helpers/pair.js'
import { run } from '../helpers/exec.js'

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url))

describe('meshgate top', () => {
  let pair: Pair
  const stop = new AbortController()
  let traffic: Promise<void>
  before(async () => {
    pair = await startPair()
    // Steady traffic for the frames to show, bounded: at most 400 requests, stops when told.
    traffic = (async () => {
      for (let i = 0; i < 400 && !stop.signal.aborted; i++) {
        await new Promise<void>((resolve) => {
          http.get({ host: '127.0.0.1', port: pair.appPort, path: '/', headers: { host: 'web.test' } }, (res) => { res.resume(); res.on('end', resolve) })
            .on('error', () => resolve())
        })
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    })()
  })
  after(async () => {
    stop.abort()
    await traffic
    await pair.close()
  })

  it('prints frames with the authority, its request rate and success rate', async () => {
    const admin = pair.client.adminAddress
    assert.ok(admin !== undefined)
    const out = await run('node', [CLI, 'top', '--admin', `http://127.0.0.1:${admin.port}`, '--interval', '300', '--count', '3'], { timeoutMs: 20_000 })
    assert.equal(out.code, 0, out.stderr)
    assert.match(out.stdout, /AUTHORITY/)
    const rows = out.stdout.split('\n').filter((l) => /^\s*web\.test\s+outbound\s+/.test(l))
    assert.ok(rows.length >= 2, `frames list web.test:\n${out.stdout}`)
    assert.match(rows.at(-1) ?? '', /\d+(\.\d+)?\/s\s+100(\.0)?%/, 'the last frame shows a rate and 100% success')
  })

  it('fails with a clear message when the admin server cannot be reached', async () => {
    const out = await run('node', [CLI, 'top', '--admin', 'http://127.0.0.1:1', '--count', '1'])
    assert.equal(out.code, 1)
    assert.match(out.stderr, /cannot read http:\/\/127\.0\.0\.1:1\/metrics/)
  })
})
