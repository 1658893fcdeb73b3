// GET/PUT /log-level changes the pino logger's level at run time, children included.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { startHarness, type Harness } from './harness.js'

let h: Harness

before(async () => { h = await startHarness() })
after(async () => { await h.admin.close() })

async function put (body: string, type = 'text/plain'): Promise<Response> {
  return await fetch(`${h.admin.url}/log-level`, { method: 'PUT', body, headers: { 'content-type': type } })
}

test('GET reports the current level', async () => {
  const res = await fetch(`${h.admin.url}/log-level`)
  assert.deepEqual(await res.json(), { level: 'info' })
})

test('PUT changes the level and it takes effect, in children too', async () => {
  const child = h.logger.child({ component: 'outbound' })
  child.debug({ n: 1 }, 'before')
  assert.equal(h.logs.filter((l) => l.msg === 'before').length, 0)

  let res = await put('debug')
  assert.equal(res.status, 200)
  assert.deepEqual(await res.json(), { level: 'debug' })
  assert.equal(h.logger.level, 'debug')
  child.debug({ n: 2 }, 'after')
  assert.equal(h.logs.filter((l) => l.msg === 'after').length, 1)
  assert.ok(h.logs.some((l) => l.msg === 'log level changed' && l.from === 'info' && l.to === 'debug'))

  res = await put(JSON.stringify({ level: 'warn' }), 'application/json')
  assert.equal(res.status, 200)
  await res.text()
  assert.equal(h.logger.level, 'warn')
  assert.equal(child.isLevelEnabled('info'), false)
})

test('a bad level is 400 and names the valid ones; the level stays', async () => {
  const before = h.logger.level
  const res = await put('verbose')
  assert.equal(res.status, 400)
  const text = await res.text()
  assert.match(text, /"verbose"/)
  for (const level of ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']) assert.ok(text.includes(level), level)
  assert.equal(h.logger.level, before)
})
