// The dev PKI with several trust domains: each its own CA in its own directory, a bundle of the
// roots, and processes of different domains sharing the directories agree on each CA.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { X509Certificate } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { ensureDevPki } from '../../src/identity/dev-pki.js'

const logger = pino({ level: 'silent' })
let root: string
before(async () => { root = await mkdtemp(join(tmpdir(), 'meshgate-devpki-domains-')) })
after(async () => { await rm(root, { recursive: true, force: true }) })

test('each trust domain gets its own CA; bundle.crt holds this domain\'s root then the others\'', async () => {
  const west = join(root, 'west.local')
  const east = join(root, 'east.local')
  // The west and east sides start at the same moment, each naming the other's domain.
  await Promise.all([
    ensureDevPki({ dir: west, trustDomain: 'west.local', workloads: ['client'], trustDomains: [{ trustDomain: 'east.local', dir: east, workloads: [] }] }, logger),
    ensureDevPki({ dir: east, trustDomain: 'east.local', workloads: ['web', 'gateway'], trustDomains: [{ trustDomain: 'west.local', dir: west, workloads: [] }] }, logger),
  ])
  const westCa = await readFile(join(west, 'ca.crt'), 'utf8')
  const eastCa = await readFile(join(east, 'ca.crt'), 'utf8')
  assert.notEqual(westCa, eastCa)
  assert.match(new X509Certificate(westCa).subject, /west\.local/)
  assert.match(new X509Certificate(eastCa).subject, /east\.local/)
  assert.equal(await readFile(join(west, 'bundle.crt'), 'utf8'), westCa.trimEnd() + '\n' + eastCa.trimEnd() + '\n')
  assert.equal(await readFile(join(east, 'bundle.crt'), 'utf8'), eastCa.trimEnd() + '\n' + westCa.trimEnd() + '\n')
  for (const [dir, name, ca, id] of [
    [west, 'client', westCa, 'spiffe://west.local/ns/default/sa/client'],
    [east, 'web', eastCa, 'spiffe://east.local/ns/default/sa/web'],
    [east, 'gateway', eastCa, 'spiffe://east.local/ns/default/sa/gateway'],
  ] as const) {
    const cert = new X509Certificate(await readFile(join(dir, `${name}.crt`), 'utf8'))
    assert.ok(cert.verify(new X509Certificate(ca).publicKey), `${name} is issued by its own domain's CA`)
    assert.ok(!cert.verify(new X509Certificate(ca === westCa ? eastCa : westCa).publicKey))
    assert.ok(cert.subjectAltName?.includes(`URI:${id}`))
  }
  // A later start keeps everything as it is.
  await ensureDevPki({ dir: west, trustDomain: 'west.local', workloads: ['client'], trustDomains: [{ trustDomain: 'east.local', dir: east, workloads: [] }] }, logger)
  assert.equal(await readFile(join(west, 'ca.crt'), 'utf8'), westCa)
  assert.equal(await readFile(join(east, 'ca.crt'), 'utf8'), eastCa)
})
