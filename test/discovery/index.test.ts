// createSource builds every kind; sources report to the discovery observer.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createSource, ServiceDirectory, type DiscoveryObserver } from '../../src/discovery/index.js'
import { FileSource } from '../../src/discovery/file.js'
import { captureLog, until } from './log-capture.js'

let dir: string
const log = captureLog()

function countingObserver (): DiscoveryObserver & { calls: string[] } {
  const calls: string[] = []
  return {
    calls,
    updated: (source, service, kind) => { calls.push(`updated ${source.split(':')[0] ?? ''} ${service} ${kind}`) },
    error: (source, code) => { calls.push(`error ${source.split(':')[0] ?? ''} ${code}`) },
    endpoints: (source, service, count) => { calls.push(`endpoints ${source.split(':')[0] ?? ''} ${service} ${count}`) },
  }
}

before(async () => { dir = await mkdtemp(join(tmpdir(), 'meshgate-index-')) })
after(async () => { await rm(dir, { recursive: true, force: true }) })

test('every kind is built by name and closes cleanly', async () => {
  const sources = [
    createSource('static', { services: {} }),
    createSource('file', { path: join(dir, 'absent.yaml') }, log.logger),
    createSource('dns', { servers: ['127.0.0.1:9'], services: {} }, log.logger),
    createSource('kubernetes', { apiServer: 'http://127.0.0.1:9', token: 't', services: {} }, log.logger),
  ]
  assert.deepEqual(sources.map((s) => s.name.split(':')[0]), ['static', 'file', 'dns', 'kubernetes'])
  await Promise.all(sources.map(async (s) => await s.close()))
})

test('the observer hears updates, endpoint counts and errors per source', async () => {
  const observer = countingObserver()
  const path = join(dir, 'eps.json')
  await writeFile(path, JSON.stringify({ services: { web: { endpoints: [{ peer: '127.0.0.1:1', identity: 'spiffe://t/w', target: '127.0.0.1:2' }] } } }))
  const source = createSource('file', { path, debounceMs: 10 }, log.logger, observer) as FileSource
  await source.ready()
  assert.deepEqual(observer.calls, ['updated file web reset', 'endpoints file web 1'])
  await writeFile(path, '{ not json')
  await until(() => observer.calls.includes('error file E_DISCOVERY_FILE_SYNTAX'), 3000, 'error counted')
  const directory = new ServiceDirectory({ sources: { file: source }, services: { web: 'file' } })
  assert.equal((await directory.pick('web', 'request')).endpoint.peer.port, 1)
  await directory.close() // closes the source
})
