// The exposition-text reader and the quantile estimate that top and the dashboard use.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { histogramQuantile, parseMetricsText } from '../../src/metrics/text-format.js'

test('parses names, escaped labels, special values; skips comments', () => {
  const text = [
    '# HELP x_total help',
    '# TYPE x_total counter',
    'x_total{a="1",b="q\\"uo\\\\te\\n"} 42',
    'y 1.5e3',
    'z{le="+Inf"} +Inf 1700000000000',
    '',
  ].join('\n')
  assert.deepEqual(parseMetricsText(text), [
    { name: 'x_total', labels: { a: '1', b: 'q"uo\\te\n' }, value: 42 },
    { name: 'y', labels: {}, value: 1500 },
    { name: 'z', labels: { le: '+Inf' }, value: Infinity },
  ])
})

test('histogramQuantile interpolates inside the bucket like Prometheus', () => {
  const b: Array<[number, number]> = [[0.1, 50], [0.2, 100], [Infinity, 100]]
  assert.equal(histogramQuantile(0.5, b), 0.1)
  assert.ok(Math.abs(histogramQuantile(0.75, b) - 0.15) < 1e-12)
  assert.ok(Number.isNaN(histogramQuantile(0.5, [[0.1, 0], [Infinity, 0]])))
  assert.equal(histogramQuantile(0.99, [[0.1, 0], [Infinity, 10]]), 0.1)
})
