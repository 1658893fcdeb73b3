// dtab parsing and resolution: prefix rewrites, later entries first, `|` fallbacks, weighted unions, loops.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { DtabSyntaxError, parseDtab, parsePath, pickService, resolvePath, servicesOf } from '../../src/route/dtab.js'

const known = new Set(['web-v1', 'web-v2', 'api', 'legacy'])
const has = (s: string): boolean => known.has(s)
const resolve = (dtab: string, path: string): ReturnType<typeof resolvePath> => resolvePath(parseDtab(dtab), parsePath(path), has)

test('a prefix rewrite keeps the rest of the path', () => {
  assert.deepEqual(resolve('/svc => /#', '/svc/api'), { kind: 'service', service: 'api' })
  assert.deepEqual(resolve('/svc => /#; /svc/web => /svc/web-v1', '/svc/web'), { kind: 'service', service: 'web-v1' })
})

test('a later entry overrides an earlier one and falls back to it when it names nothing', () => {
  const dtab = '/svc => /#; /svc/web => /#/web-v1; /svc/web => /#/web-v3'
  assert.deepEqual(resolve(dtab, '/svc/web'), { kind: 'service', service: 'web-v1' }, 'web-v3 does not exist: the entry before')
  assert.deepEqual(resolve('/svc => /#/legacy; /svc => /#', '/svc/api'), { kind: 'service', service: 'api' })
})

test('| tries alternatives left to right; ~ and unknown services fall through; ! fails', () => {
  assert.deepEqual(resolve('/svc/web => /#/nope | ~ | /#/legacy', '/svc/web'), { kind: 'service', service: 'legacy' })
  assert.deepEqual(resolve('/svc/web => ! | /#/legacy', '/svc/web'), { kind: 'fail' })
  assert.deepEqual(resolve('/svc/web => /#/nope', '/svc/web'), { kind: 'neg' })
})

test('a weighted union picks by weight; & binds tighter than |', () => {
  const r = resolve('/svc => /#; /svc/web => 1 * /svc/web-v2 & 9 * /svc/web-v1 | /#/legacy', '/svc/web')
  assert.deepEqual(servicesOf(r).sort(), ['web-v1', 'web-v2'])
  let seed = 0
  const counts = new Map<string, number>()
  for (let i = 0; i < 1000; i++) {
    const s = pickService(r, () => (seed++ % 1000) / 1000) ?? 'none'
    counts.set(s, (counts.get(s) ?? 0) + 1)
  }
  assert.equal(counts.get('web-v2'), 100)
  assert.equal(counts.get('web-v1'), 900)
  assert.deepEqual(servicesOf(resolve('/svc/web => (1 * /#/nope & 1 * /#/nope2) | /#/legacy', '/svc/web')), ['legacy'], 'a union of nothing falls through')
})

test('wildcard prefix segments, loops end as failures', () => {
  assert.deepEqual(resolve('/env/*/svc => /#', '/env/prod/svc/api'), { kind: 'service', service: 'api' })
  assert.deepEqual(resolve('/a => /b; /b => /a', '/a/x'), { kind: 'fail' })
})

test('syntax errors say where', () => {
  assert.throws(() => parseDtab('/svc => '), DtabSyntaxError)
  assert.throws(() => parseDtab('/svc /#'), /expected => at offset 5/)
  assert.throws(() => parseDtab('/svc => /a /b'), /expected ; between entries/)
  assert.throws(() => parseDtab('/svc => 0 * /a & 0 * /b'), /weights sum to 0/)
})
