// The file source follows edits (atomic rename and in place) and keeps the last good set on bad ones.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { FileSource, parseDiscoveryFile } from '../../src/discovery/file.js'
import type { DiscoveryUpdate, Endpoint } from '../../src/discovery/types.js'
import { captureLog, until } from './log-capture.js'

let dir: string
let path: string
let source: FileSource
const log = captureLog()
const updates: DiscoveryUpdate[] = []

const yaml = (ports: number[]): string => `services:
  web:
    endpoints:
${ports.map((p) => `      - { peer: "127.0.0.1:${p}", identity: "spiffe://test.local/ns/default/sa/web", target: "127.0.0.1:8080", weight: 2 }`).join('\n')}
`
const peersOf = (u: DiscoveryUpdate | undefined): number[] => (u?.kind === 'reset' ? u.endpoints.map((e: Endpoint) => e.peer.port).sort() : [])

async function atomicWrite (text: string): Promise<void> {
  const tmp = join(dir, `.tmp-${Math.random().toString(36).slice(2)}`)
  await writeFile(tmp, text)
  await rename(tmp, path)
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshgate-file-'))
  path = join(dir, 'endpoints.yaml')
  await writeFile(path, yaml([4001, 4002]))
  source = new FileSource({ path, debounceMs: 30 }, log.logger)
  await source.ready()
  source.watch('web', (u) => updates.push(u))
})

after(async () => {
  await source.close()
  await rm(dir, { recursive: true, force: true })
})

test('first read: the set of the file', async () => {
  await until(() => updates.length >= 1, 2000, 'first update')
  assert.deepEqual(peersOf(updates[0]), [4001, 4002])
  const e = (updates[0] as { endpoints: Endpoint[] }).endpoints[0]
  assert.equal(e?.weight, 2)
  assert.equal(e?.transport, 'auto')
})

test('an atomic rename is followed', async () => {
  await atomicWrite(yaml([4001, 4003]))
  await until(() => updates.length >= 2, 3000, 'update after rename')
  assert.deepEqual(peersOf(updates.at(-1)), [4001, 4003])
})

test('a syntax error is rejected with a logged code; the last good set stays', async () => {
  const before = updates.length
  await atomicWrite('services: { web: [ unclosed\n')
  await until(() => log.withCode('E_DISCOVERY_FILE_SYNTAX').length >= 1, 3000, 'syntax error logged')
  assert.equal(updates.length, before)
  // and a file of the wrong shape is rejected the same way, naming the path
  await writeFile(path, 'services:\n  web:\n    endpoints:\n      - { peer: "nohost", identity: "spiffe://x/y", target: "127.0.0.1:1", wieght: 3 }\n')
  await until(() => log.withCode('E_DISCOVERY_FILE_INVALID').length >= 1, 3000, 'invalid file logged')
  const problems = log.withCode('E_DISCOVERY_FILE_INVALID')[0]?.problems as Array<{ path: string }>
  assert.deepEqual(problems.map((p) => p.path).sort(), ['services.web.endpoints[0].peer', 'services.web.endpoints[0].wieght'])
  assert.equal(updates.length, before)
  assert.deepEqual(peersOf(updates.at(-1)), [4001, 4003])
})

test('an in-place write of a good file recovers; a removed service does not exist', async () => {
  await writeFile(path, yaml([4005]).replace('web:', 'api:'))
  await until(() => updates.at(-1)?.kind === 'doesNotExist', 3000, 'web gone')
  const api: DiscoveryUpdate[] = []
  source.watch('api', (u) => api.push(u))
  await until(() => api.length === 1, 1000, 'api set')
  assert.deepEqual(peersOf(api[0]), [4005])
})

test('parseDiscoveryFile takes JSON too and rejects unknown top-level keys', () => {
  const ok = parseDiscoveryFile(JSON.stringify({ services: { s: { endpoints: [{ peer: '[::1]:1', identity: 'spiffe://a/b', target: 'x:2', transport: 'h3', zone: 'z1' }] } } }))
  assert.ok(ok.ok)
  assert.deepEqual(ok.services.get('s')?.[0]?.peer, { host: '::1', port: 1 })
  assert.equal(ok.services.get('s')?.[0]?.zone, 'z1')
  const bad = parseDiscoveryFile('servces: {}\n')
  assert.ok(!bad.ok && bad.code === 'E_DISCOVERY_FILE_INVALID')
})
