// src/log.ts: the process logger's JSON lines and its timestamp.
import assert from 'node:assert/strict'
import { PassThrough } from 'node:stream'
import { test } from 'node:test'
import { createLogger, isoTime } from '../src/log.js'

test('isoTime writes what Date#toISOString does', () => {
  for (const ms of [0, 1, 999, 86_399_999, 951_782_400_000, 1_709_210_096_789, Date.now(), 253_402_300_799_999]) {
    assert.equal(isoTime(ms), `,"time":"${new Date(ms).toISOString()}"`, String(ms))
  }
})

test('a log line carries level, ISO time, pid, bindings and message', async () => {
  const out = new PassThrough()
  const logger = createLogger('info', out).child({ component: 'test' })
  const before = Date.now()
  logger.info({ n: 1 }, 'hello')
  const line = JSON.parse((out.read() as Buffer).toString()) as Record<string, unknown>
  assert.equal(line.level, 30)
  assert.equal(line.pid, process.pid)
  assert.equal(line.component, 'test')
  assert.equal(line.n, 1)
  assert.equal(line.msg, 'hello')
  const time = Date.parse(line.time as string)
  assert.ok(time >= before - 1 && time <= Date.now(), String(line.time))
})
