// The dev PKI: made once, reused afterwards, topped up from the saved CA, certs carrying the SPIFFE URI SAN.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { X509Certificate } from 'node:crypto'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { MeshError } from '../../core/errors.js'
import { ensureDevPki } from '../../src/identity/dev-pki.js'

const logger = pino({ level: 'silent' })
let root: string
before(async () => { root = await mkdtemp(join(tmpdir(), 'meshgate-devpki-')) })
after(async () => { await rm(root, { recursive: true, force: true }) })

test('first call creates the CA and one certificate per workload; the second reuses them', async () => {
  const dir = join(root, 'a', 'pki')
  const cfg = { dir, trustDomain: 'mesh.local', workloads: ['demo-client', 'demo-server'] }
  await ensureDevPki(cfg, logger)
  const files = ['ca.crt', 'ca.key', 'demo-client.crt', 'demo-client.key', 'demo-server.crt', 'demo-server.key']
  const first = await Promise.all(files.map(async (f) => await readFile(join(dir, f), 'utf8')))
  for (const key of ['ca.key', 'demo-client.key', 'demo-server.key']) {
    assert.equal((await stat(join(dir, key))).mode & 0o777, 0o600, key)
  }

  const ca = new X509Certificate(first[0])
  assert.ok(ca.ca)
  for (const [i, name] of [[2, 'demo-client'], [4, 'demo-server']] as const) {
    const cert = new X509Certificate(first[i])
    assert.ok(cert.subjectAltName?.includes(`URI:spiffe://mesh.local/ns/default/sa/${name}`), cert.subjectAltName)
    assert.ok(cert.verify(ca.publicKey))
    assert.ok(cert.checkIssued(ca))
  }

  await ensureDevPki(cfg, logger)
  const second = await Promise.all(files.map(async (f) => await readFile(join(dir, f), 'utf8')))
  assert.deepEqual(second, first)
})

test('a new workload is issued from the saved CA; existing ones are kept', async () => {
  const dir = join(root, 'b')
  await ensureDevPki({ dir, trustDomain: 'td.example', workloads: ['one'] }, logger)
  const caBefore = await readFile(join(dir, 'ca.crt'), 'utf8')
  const oneBefore = await readFile(join(dir, 'one.crt'), 'utf8')
  await rm(join(dir, 'one.key'))
  await ensureDevPki({ dir, trustDomain: 'td.example', workloads: ['one', 'two'] }, logger)
  assert.equal(await readFile(join(dir, 'ca.crt'), 'utf8'), caBefore)
  const ca = new X509Certificate(caBefore)
  const one = new X509Certificate(await readFile(join(dir, 'one.crt')))
  const two = new X509Certificate(await readFile(join(dir, 'two.crt')))
  assert.notEqual(one.raw.toString('base64'), new X509Certificate(oneBefore).raw.toString('base64'), 'one had lost its key, so it is issued again')
  assert.ok(one.verify(ca.publicKey) && two.verify(ca.publicKey))
  assert.ok(two.subjectAltName?.includes('URI:spiffe://td.example/ns/default/sa/two'))
})

test('half a CA is refused with E_CONFIG rather than silently replaced', async () => {
  const dir = join(root, 'c')
  await ensureDevPki({ dir, trustDomain: 'mesh.local', workloads: ['w'] }, logger)
  await rm(join(dir, 'ca.key'))
  await assert.rejects(ensureDevPki({ dir, trustDomain: 'mesh.local', workloads: ['w'] }, logger),
    (e: unknown) => e instanceof MeshError && e.code === 'E_CONFIG' && e.message.includes(dir) && e.message.includes('ca.key'))
})

test('a directory that cannot be created is E_CONFIG naming it', async () => {
  const file = join(root, 'plain-file')
  await writeFile(file, 'x')
  const dir = join(file, 'pki')
  await assert.rejects(ensureDevPki({ dir, trustDomain: 'mesh.local', workloads: ['w'] }, logger),
    (e: unknown) => e instanceof MeshError && e.code === 'E_CONFIG' && e.message.includes(dir))
})
