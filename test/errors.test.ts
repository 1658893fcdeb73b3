// The error catalogue in core/errors.ts and docs/errors.md agree, code by code.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { ConfigError, ERROR_CODES, MeshError, toMeshError } from '../core/errors.js'

describe('error catalogue', () => {
  it('docs/errors.md lists every code with its status, and nothing else', async () => {
    const doc = await readFile(new URL('../../docs/errors.md', import.meta.url), 'utf8')
    const rows = [...doc.matchAll(/^\| `(E_[A-Z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])])
    const expected = Object.entries(ERROR_CODES).map(([code, v]) => [code, v.status])
    assert.deepEqual(rows, expected)
  })

  it('MeshError takes its status from the code; toMeshError keeps MeshErrors and wraps the rest', () => {
    const err = new MeshError('E_FORBIDDEN', 'nope')
    assert.equal(err.status, 403)
    assert.equal(toMeshError(err), err)
    const wrapped = toMeshError(new Error('boom'), 'E_PEER_RESET')
    assert.equal(wrapped.code, 'E_PEER_RESET')
    assert.equal(wrapped.message, 'boom')
  })

  it('ConfigError names the file and every problem', () => {
    const err = new ConfigError('/etc/m.yaml', [
      { path: 'outbound.listeners[1].port', found: '70000', expected: 'a port 0-65535' },
      { path: 'services.web', found: 'missing', expected: 'a service' },
    ])
    assert.match(err.message, /2 problems/)
    assert.match(err.message, /\/etc\/m\.yaml: outbound\.listeners\[1\]\.port: expected a port 0-65535, found 70000/)
    assert.match(err.message, /services\.web/)
  })
})
