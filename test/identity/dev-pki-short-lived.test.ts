// The dev PKI's short-lived certificates: devPki.certLifetimeMs sets the workload certificates'
// lifetime (validated like every config value), longer-lived ones are issued again, and a running
// renewal re-issues a certificate a third of the way before its end, which the proxy's identity
// rotation then puts into use without a restart.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { X509Certificate } from 'node:crypto'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { ConfigError } from '../../core/errors.js'
import { loadCertificateAuthority, spiffeId } from '../../core/identity/pki.js'
import { parseConfig } from '../../src/config/load.js'
import { ensureDevPki, startDevPkiRenewal } from '../../src/identity/dev-pki.js'
import { startProxy } from '../../src/proxy.js'
import { waitFor } from '../helpers/rotate.js'

const logger = pino({ level: 'silent' })
let root: string
before(async () => { root = await mkdtemp(join(tmpdir(), 'meshgate-devpki-short-')) })
after(async () => { await rm(root, { recursive: true, force: true }) })

const validTo = async (file: string): Promise<number> => Date.parse(new X509Certificate(await readFile(file)).validTo)

test('devPki.certLifetimeMs is validated with the path and the range', () => {
  assert.throws(() => parseConfig('devPki: { dir: pki, workloads: [a], certLifetimeMs: 10s }\n', join(root, 'bad.yaml')), (err: unknown) => {
    assert.ok(err instanceof ConfigError)
    assert.match(err.message, /bad\.yaml: devPki\.certLifetimeMs: expected a duration 1m/)
    assert.match(err.message, /found "10s"/)
    return true
  })
  const ok = parseConfig('devPki: { dir: pki, workloads: [a], certLifetimeMs: 10m }\n', join(root, 'ok.yaml'))
  assert.equal(ok.devPki?.certLifetimeMs, 600_000)
})

test('workload certificates live certLifetimeMs; a longer-lived one is issued again', async () => {
  const dir = join(root, 'lifetime')
  await ensureDevPki({ dir, trustDomain: 'mesh.local', workloads: ['w'] }, logger)
  const yearLong = await validTo(join(dir, 'w.crt'))
  assert.ok(yearLong - Date.now() > 300 * 86_400_000)
  await ensureDevPki({ dir, trustDomain: 'mesh.local', workloads: ['w'], certLifetimeMs: 600_000 }, logger)
  const short = await validTo(join(dir, 'w.crt'))
  assert.ok(Math.abs(short - (Date.now() + 600_000)) < 30_000, `notAfter ${new Date(short).toISOString()}`)
  // Not yet within a third of its end: kept.
  await ensureDevPki({ dir, trustDomain: 'mesh.local', workloads: ['w'], certLifetimeMs: 600_000 }, logger)
  assert.equal(await validTo(join(dir, 'w.crt')), short)
})

test('a running renewal re-issues a certificate near its end and the proxy rotates to it live', async () => {
  const dir = join(root, 'live')
  const cfg = { dir, trustDomain: 'mesh.local', workloads: ['server'], certLifetimeMs: 60_000 }
  await ensureDevPki(cfg, logger)
  // A certificate 15 s from its end (less than a third of the 60 s lifetime left).
  const ca = await loadCertificateAuthority({ cert: await readFile(join(dir, 'ca.crt'), 'utf8'), key: await readFile(join(dir, 'ca.key'), 'utf8') })
  const ending = await ca.issue(spiffeId('mesh.local', 'server'), { notBefore: new Date(Date.now() - 45_000), notAfter: new Date(Date.now() + 15_000) })
  await writeFile(join(dir, 'server.key'), ending.key, { mode: 0o600 })
  await writeFile(join(dir, 'server.crt'), ending.cert)
  const configFile = join(root, 'live.yaml')
  const config = parseConfig(`
log: { level: silent }
admin: false
devPki: { dir: ${dir}, workloads: [server], certLifetimeMs: 1m }
inbound:
  tls: { ca: ${join(dir, 'ca.crt')}, cert: ${join(dir, 'server.crt')}, key: ${join(dir, 'server.key')} }
  listeners: [{ host: 127.0.0.1, port: 0, h3: false }]
  targets: [{ address: "127.0.0.1:9", protocol: tcp, allow: ["*"] }]
`, configFile)
  const proxy = await startProxy(config, logger)
  const renewal = startDevPkiRenewal(cfg, logger)
  try {
    const rotation = proxy.identity.inbound
    assert.ok(rotation !== undefined)
    const before = rotation.leaf?.serial
    assert.equal(before, new X509Certificate(ending.cert).serialNumber)
    // The renewal runs every 10 s (a sixth of the lifetime).
    await waitFor(() => rotation.leaf !== undefined && rotation.leaf.serial !== before, 25_000, 'the renewed certificate to be in use')
    assert.ok((rotation.leaf?.notAfter.getTime() ?? 0) - Date.now() > 40_000, 'the renewed one has most of its minute left')
  } finally {
    renewal.stop()
    await proxy.close()
  }
})
