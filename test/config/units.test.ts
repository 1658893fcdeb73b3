// Durations and sizes: the accepted spellings, and garbage rejected.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { formatDuration, formatSize, parseDuration, parseSize } from '../../src/config/units.js'

test('durations parse to ms', () => {
  assert.equal(parseDuration('250ms'), 250)
  assert.equal(parseDuration('5s'), 5_000)
  assert.equal(parseDuration('1.5s'), 1_500)
  assert.equal(parseDuration('2m'), 120_000)
  assert.equal(parseDuration('1h'), 3_600_000)
  assert.equal(parseDuration(1500), 1500)
  assert.equal(parseDuration('1500'), 1500)
  assert.equal(parseDuration(0), 0)
  assert.equal(parseDuration('5 s'), 5_000)
})

test('durations reject garbage', () => {
  for (const bad of ['', 'abc', '5 parsecs', '-5s', '5ss', 's', '1.5ms', '5d', -1, 1.5, Number.NaN, Infinity, true, null, undefined, {}, []]) {
    assert.equal(parseDuration(bad), undefined, `${String(bad)} should be rejected`)
  }
})

test('sizes parse to bytes', () => {
  assert.equal(parseSize('64KiB'), 65_536)
  assert.equal(parseSize('16MiB'), 16 * 1024 * 1024)
  assert.equal(parseSize('1GiB'), 1024 ** 3)
  assert.equal(parseSize('1MB'), 1_000_000)
  assert.equal(parseSize('2KB'), 2_000)
  assert.equal(parseSize('512B'), 512)
  assert.equal(parseSize('64kib'), 65_536)
  assert.equal(parseSize(4096), 4096)
  assert.equal(parseSize('4096'), 4096)
})

test('sizes reject garbage', () => {
  for (const bad of ['', 'lots', '64 KiBs', '-1KiB', '1.5B', '64Kb/s', 'KiB', -1, 0.5, false, null, undefined]) {
    assert.equal(parseSize(bad), undefined, `${String(bad)} should be rejected`)
  }
})

test('formatting picks the shortest exact unit', () => {
  assert.equal(formatDuration(5_000), '5s')
  assert.equal(formatDuration(250), '250ms')
  assert.equal(formatDuration(120_000), '2m')
  assert.equal(formatDuration(0), '0ms')
  assert.equal(formatSize(65_536), '64KiB')
  assert.equal(formatSize(1_000_000), '1MB')
  assert.equal(formatSize(7), '7B')
})
