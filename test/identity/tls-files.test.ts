// Reading TLS PEM files: contents returned as strings; a missing or non-PEM file is E_CONFIG naming it.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { MeshError } from '../../core/errors.js'
import { readTlsMaterial } from '../../src/identity/tls-files.js'

let dir: string
const pem = (label: string): string => `-----BEGIN ${label}-----\nAAAA\n-----END ${label}-----\n`
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshgate-tls-'))
  await writeFile(join(dir, 'ca.crt'), pem('CERTIFICATE'))
  await writeFile(join(dir, 'me.crt'), pem('CERTIFICATE'))
  await writeFile(join(dir, 'me.key'), pem('PRIVATE KEY'))
  await writeFile(join(dir, 'junk.crt'), 'not a certificate')
})
after(async () => { await rm(dir, { recursive: true, force: true }) })

test('reads the three PEM files', async () => {
  const material = await readTlsMaterial({ ca: join(dir, 'ca.crt'), cert: join(dir, 'me.crt'), key: join(dir, 'me.key') })
  assert.deepEqual(material, { ca: pem('CERTIFICATE'), cert: pem('CERTIFICATE'), key: pem('PRIVATE KEY') })
})

test('a missing file is E_CONFIG naming the file', async () => {
  const missing = join(dir, 'missing.key')
  await assert.rejects(readTlsMaterial({ ca: join(dir, 'ca.crt'), cert: join(dir, 'me.crt'), key: missing }),
    (e: unknown) => e instanceof MeshError && e.code === 'E_CONFIG' && e.message.includes(missing) && e.message.includes('key'))
})

test('a file that is not PEM is E_CONFIG naming the file', async () => {
  const junk = join(dir, 'junk.crt')
  await assert.rejects(readTlsMaterial({ ca: junk, cert: join(dir, 'me.crt'), key: join(dir, 'me.key') }),
    (e: unknown) => e instanceof MeshError && e.code === 'E_CONFIG' && e.message.includes(junk))
})
