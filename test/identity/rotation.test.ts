// Watching one role's TLS files: kubelet's ..data symlink swap and cert-manager's
// write-then-rename are both seen by the directory watch; the periodic hashed re-check catches a
// change the watch missed; unchanged bytes are not applied twice; an identity change or a
// transport that cannot load the files is refused; expiry nearing is warned once.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { pino } from 'pino'
import { createCertificateAuthority, spiffeId, type CertificateAuthority } from '../../core/identity/pki.js'
import type { IdentityConfig } from '../../src/config/types.js'
import { IdentityRotation } from '../../src/identity/rotation.js'
import type { IdentityObserver } from '../../src/identity/observer.js'
import type { TlsMaterial } from '../../transports/contract.js'
import { publishDataDir, replaceFile, serialOf, waitFor } from '../helpers/rotate.js'

const ID = spiffeId('test.local', 'server')

/** A pino logger whose JSON lines land in `lines`. */
function capture (): { logger: pino.Logger, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const sink = new Writable({
    write (chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>)
      done()
    },
  })
  return { logger: pino({ level: 'debug' }, sink), lines }
}

function recorder (): IdentityObserver & { refusals: string[], reloads: number, notAfter: Date | undefined } {
  const r = {
    refusals: [] as string[],
    reloads: 0,
    notAfter: undefined as Date | undefined,
    certificate: (_role: string, at: Date) => { r.notAfter = at },
    reloaded: () => { r.reloads++ },
    refused: (_role: string, kind: string) => { r.refusals.push(kind) },
  }
  return r
}

describe('IdentityRotation', { timeout: 60_000 }, () => {
  let ca: CertificateAuthority
  let dir: string
  let first: TlsMaterial
  const rotations: IdentityRotation[] = []
  const config = (over: Partial<IdentityConfig> = {}): IdentityConfig => ({ debounceMs: 100, recheckMs: 0, expiryWarningMs: 0, ...over })
  const material = async (id = ID, notAfter?: Date): Promise<TlsMaterial> => ({ ca: ca.cert, ...(await ca.issue(id, notAfter === undefined ? {} : { notAfter })) })

  before(async () => {
    ca = await createCertificateAuthority('test.local')
    dir = await mkdtemp(join(tmpdir(), 'meshgate-rotation-'))
    first = await material()
  })
  after(async () => {
    for (const r of rotations) r.close()
    await rm(dir, { recursive: true, force: true })
  })

  const start = (files: { ca: string, cert: string, key: string }, initial: TlsMaterial, cfg: IdentityConfig, apply: (tls: TlsMaterial) => void = () => {}) => {
    const { logger, lines } = capture()
    const observer = recorder()
    const applied: TlsMaterial[] = []
    const rotation = new IdentityRotation({ role: 'inbound', files, initial, config: cfg, logger, observer, apply: (tls) => { apply(tls); applied.push(tls) } })
    rotation.start()
    rotations.push(rotation)
    return { rotation, lines, observer, applied }
  }

  it('sees a kubelet-style ..data symlink swap through the directory watch (no periodic re-check)', async () => {
    const volume = await mkdtemp(join(dir, 'kubelet-'))
    const files = await publishDataDir(volume, first)
    const { rotation, applied, observer } = start(files, first, config())
    const next = await material()
    await publishDataDir(volume, next)
    await waitFor(() => applied.length === 1, 10_000, 'the swap to be applied')
    assert.equal(serialOf(applied[0]?.cert ?? ''), serialOf(next.cert))
    assert.equal(rotation.leaf?.serial, serialOf(next.cert))
    assert.equal(observer.reloads, 1)
    assert.deepEqual(observer.refusals, [])
  })

  it('sees cert-manager-style write-then-rename of key and certificate as one change', async () => {
    const files = { ca: join(dir, 'cm-ca.crt'), cert: join(dir, 'cm.crt'), key: join(dir, 'cm.key') }
    for (const part of ['ca', 'cert', 'key'] as const) await replaceFile(files[part], first[part])
    const { applied, observer } = start(files, first, config({ debounceMs: 250 }))
    const next = await material()
    await replaceFile(files.key, next.key)
    await replaceFile(files.cert, next.cert)
    await waitFor(() => applied.length === 1, 10_000, 'the new pair to be applied')
    assert.equal(serialOf(applied[0]?.cert ?? ''), serialOf(next.cert))
    // The same bytes written again are not applied again.
    await replaceFile(files.cert, next.cert)
    await new Promise((resolve) => setTimeout(resolve, 600))
    assert.equal(applied.length, 1)
    assert.deepEqual(observer.refusals, [])
  })

  it('the periodic re-check finds a change when no watch event leads to it', async () => {
    const files = { ca: join(dir, 'p-ca.crt'), cert: join(dir, 'p.crt'), key: join(dir, 'p.key') }
    for (const part of ['ca', 'cert', 'key'] as const) await replaceFile(files[part], first[part])
    // Watch events wait a minute here, so only the 200 ms re-check can see the new files in time.
    const { applied } = start(files, first, config({ debounceMs: 60_000, recheckMs: 200 }))
    const next = await material()
    await replaceFile(files.key, next.key)
    await replaceFile(files.cert, next.cert)
    await waitFor(() => applied.length === 1, 5000, 'the periodic re-check to apply the new pair')
    assert.equal(serialOf(applied[0]?.cert ?? ''), serialOf(next.cert))
  })

  it('refuses another identity, and a pair the transports do not load, keeping the old one', async () => {
    const files = { ca: join(dir, 'r-ca.crt'), cert: join(dir, 'r.crt'), key: join(dir, 'r.key') }
    for (const part of ['ca', 'cert', 'key'] as const) await replaceFile(files[part], first[part])
    let failApply = false
    const { rotation, applied, observer, lines } = start(files, first, config(), () => { if (failApply) throw new Error('GnuTLS said no') })
    const someoneElse = await material(spiffeId('test.local', 'intruder'))
    await replaceFile(files.key, someoneElse.key)
    await replaceFile(files.cert, someoneElse.cert)
    await waitFor(() => observer.refusals.includes('identity_changed'), 10_000, 'the identity change to be refused')
    const line = lines.find((l) => l.kind === 'identity_changed')
    assert.equal(line?.code, 'E_IDENTITY_REJECTED')
    assert.equal(line?.file, files.cert)
    assert.match(String(line?.msg), /carries identity spiffe:\/\/test\.local\/ns\/default\/sa\/intruder, not spiffe:\/\/test\.local\/ns\/default\/sa\/server/)
    failApply = true
    const next = await material()
    await replaceFile(files.key, next.key)
    await replaceFile(files.cert, next.cert)
    await waitFor(() => observer.refusals.includes('unloadable'), 10_000, 'the apply failure to count as a refusal')
    assert.equal(applied.length, 0)
    assert.equal(rotation.current, first)
    assert.equal(rotation.leaf?.serial, serialOf(first.cert))
  })

  it('refuses a CA bundle that drops the root of the certificate in use, naming the CA file', async () => {
    const files = { ca: join(dir, 'b-ca.crt'), cert: join(dir, 'b.crt'), key: join(dir, 'b.key') }
    for (const part of ['ca', 'cert', 'key'] as const) await replaceFile(files[part], first[part])
    const { rotation, observer, lines } = start(files, first, config())
    const other = await createCertificateAuthority('test.local')
    await replaceFile(files.ca, other.cert)
    await waitFor(() => observer.refusals.includes('untrusted'), 10_000, 'the bundle to be refused')
    const line = lines.find((l) => l.kind === 'untrusted')
    assert.equal(line?.file, files.ca)
    assert.match(String(line?.msg), /ca file .*b-ca\.crt does not hold the CA that issued the certificate in use/)
    assert.equal(rotation.current, first)
  })

  it('warns once when the certificate in use nears its notAfter, and reports notAfter', async () => {
    const files = { ca: join(dir, 'w-ca.crt'), cert: join(dir, 'w.crt'), key: join(dir, 'w.key') }
    const soon = await material(ID, new Date(Date.now() + 3_600_000))
    for (const part of ['ca', 'cert', 'key'] as const) await replaceFile(files[part], soon[part])
    const { rotation, lines, observer } = start(files, soon, config({ expiryWarningMs: 86_400_000, recheckMs: 50 }))
    await new Promise((resolve) => setTimeout(resolve, 400))
    await rotation.check()
    const warnings = lines.filter((l) => l.msg === 'the certificate in use expires soon: rotate it')
    assert.equal(warnings.length, 1, 'one warning per certificate, however many checks')
    assert.equal(warnings[0]?.thresholdSeconds, 86_400)
    assert.ok(Number(warnings[0]?.secondsLeft) <= 3600 && Number(warnings[0]?.secondsLeft) > 3500)
    assert.equal(observer.notAfter?.getTime(), rotation.leaf?.notAfter.getTime())
  })
})
