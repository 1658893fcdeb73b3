// examples/grafana-dashboard.json queries only metrics meshgate actually exports.
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { test } from 'node:test'
import { createMetrics } from '../../src/metrics/index.js'

test('every metric the Grafana dashboard queries exists', async () => {
  const json = await readFile(new URL('../../../examples/grafana-dashboard.json', import.meta.url), 'utf8')
  const dashboard = JSON.parse(json) as { panels: Array<{ targets?: Array<{ expr: string }> }> }
  const exprs = dashboard.panels.flatMap((p) => p.targets ?? []).map((t) => t.expr)
  assert.ok(exprs.length > 20)
  const text = await createMetrics().registry.metrics()
  const families = new Set([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => m[1]))
  const used = new Set(exprs.flatMap((e) => [...e.matchAll(/\b((?:meshgate|process|nodejs)_[a-z0-9_]+)/g)].map((m) => m[1])))
  for (const name of used) {
    const family = name.replace(/_(bucket|sum|count)$/, '')
    assert.ok(families.has(name) || families.has(family), `${name} is not exported`)
  }
  const ours = [...families].filter((f) => f.startsWith('meshgate_') && f !== 'meshgate_metric_labels_folded_total')
  const unused = ours.filter((f) => ![...used].some((u) => u === f || u.startsWith(`${f}_`)))
  assert.deepEqual(unused, [], 'every meshgate_ family has a panel')
})
