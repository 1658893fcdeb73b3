// core/identity/check.ts: material is accepted only when key and certificate pair up, the
// certificate is valid now, and it chains to a CA of the bundle; each refusal says which part and why.
import { describe, it, before } from 'node:test'
import assert from 'node:assert/strict'
import { checkMaterial, parseCertificates } from '../../core/identity/check.js'
import { createCertificateAuthority, spiffeId } from '../../core/identity/pki.js'
import type { CertificateAuthority, IssuedPem } from '../../core/identity/pki.js'

const ID = spiffeId('test.local', 'server')

describe('checkMaterial', () => {
  let ca: CertificateAuthority
  let other: CertificateAuthority
  let good: IssuedPem
  before(async () => {
    ca = await createCertificateAuthority('test.local')
    other = await createCertificateAuthority('test.local')
    good = await ca.issue(ID)
  })

  it('accepts a matching pair from the CA and summarises the leaf', () => {
    const verdict = checkMaterial({ ca: ca.cert, ...good }, new Date())
    assert.equal(verdict.ok, true)
    if (!verdict.ok) return
    assert.equal(verdict.leaf.identity, ID)
    assert.equal(verdict.leaf.serial, parseCertificates(good.cert)[0]?.serialNumber)
    assert.equal(verdict.leaf.roots.length, 1)
    assert.ok(verdict.leaf.notAfter.getTime() > Date.now())
  })

  it('accepts a bundle of two CAs with a certificate of either (the overlap of a CA rotation)', async () => {
    const bundle = ca.cert + other.cert
    const fromOther = await other.issue(ID)
    for (const pair of [good, fromOther]) {
      const verdict = checkMaterial({ ca: bundle, ...pair }, new Date())
      assert.equal(verdict.ok, true)
      if (verdict.ok) assert.equal(verdict.leaf.roots.length, 2)
    }
  })

  it('refuses a key that is not the certificate\'s (key_mismatch, part key)', async () => {
    const another = await ca.issue(ID)
    const verdict = checkMaterial({ ca: ca.cert, cert: good.cert, key: another.key }, new Date())
    assert.deepEqual(verdict.ok ? undefined : [verdict.part, verdict.kind], ['key', 'key_mismatch'])
    assert.match(verdict.ok ? '' : verdict.reason, /does not match the certificate/)
  })

  it('refuses an expired certificate and one not valid yet, with the date', async () => {
    const expired = await ca.issue(ID, { notBefore: new Date(Date.now() - 2 * 86_400_000), notAfter: new Date(Date.now() - 86_400_000) })
    const future = await ca.issue(ID, { notBefore: new Date(Date.now() + 86_400_000) })
    const a = checkMaterial({ ca: ca.cert, ...expired }, new Date())
    const b = checkMaterial({ ca: ca.cert, ...future }, new Date())
    assert.deepEqual(a.ok ? undefined : [a.part, a.kind], ['cert', 'expired'])
    assert.match(a.ok ? '' : a.reason, /has expired \(notAfter \d{4}-/)
    assert.deepEqual(b.ok ? undefined : [b.part, b.kind], ['cert', 'not_yet_valid'])
  })

  it('refuses a certificate of another CA, naming its issuer and the bundle', async () => {
    const foreign = await createCertificateAuthority('foreign.local')
    const verdict = checkMaterial({ ca: ca.cert, ...(await foreign.issue(ID)) }, new Date())
    assert.deepEqual(verdict.ok ? undefined : [verdict.part, verdict.kind], ['cert', 'untrusted'])
    assert.match(verdict.ok ? '' : verdict.reason, /not issued by a CA of the trust bundle \(issuer CN=meshgate development CA for foreign\.local/)
  })

  it('refuses material that is not PEM, naming the part', () => {
    const noCa = checkMaterial({ ca: 'nothing', ...good }, new Date())
    const noCert = checkMaterial({ ca: ca.cert, cert: '', key: good.key }, new Date())
    const badKey = checkMaterial({ ca: ca.cert, cert: good.cert, key: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' }, new Date())
    assert.deepEqual([noCa, noCert, badKey].map((v) => v.ok ? 'ok' : `${v.part}:${v.kind}`), ['ca:unparsable', 'cert:unparsable', 'key:unparsable'])
  })

  it('uses the clock it is given', () => {
    const later = new Date(Date.now() + 2 * 365 * 86_400_000)
    const verdict = checkMaterial({ ca: ca.cert, ...good }, later)
    assert.equal(verdict.ok ? 'ok' : verdict.kind, 'expired')
  })
})
