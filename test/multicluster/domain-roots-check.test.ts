// The check a changed trust-domain CA file must pass before the gateway uses it: PEM
// certificates, every one a CA, at least one; anything else is refused with a reason that says what.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createCertificateAuthority } from '../../core/identity/pki.js'
import { checkDomainRoots, rootsRole } from '../../src/gateway/domain-roots.js'

test('a file of CA certificates passes with every root', async () => {
  const a = await createCertificateAuthority('north.local')
  const b = await createCertificateAuthority('north.local')
  const verdict = checkDomainRoots(`${a.cert}${b.cert}`)
  assert.equal(verdict.ok, true)
  if (verdict.ok) assert.equal(verdict.roots.length, 2)
})

test('no certificate, a broken certificate and a leaf are each refused with their reason', async () => {
  const ca = await createCertificateAuthority('north.local')
  const leaf = await ca.issue('spiffe://north.local/ns/default/sa/client')
  assert.deepEqual(checkDomainRoots('garbage\n'), { ok: false, kind: 'no_certificate', reason: 'holds no PEM certificate (expected the CA\'s -----BEGIN CERTIFICATE----- block)' })
  const broken = checkDomainRoots('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')
  assert.equal(broken.ok, false)
  if (!broken.ok) assert.equal(broken.kind, 'unparsable')
  // A leaf among roots spoils the file: a CA file holding a workload certificate is a mistake.
  const mixed = checkDomainRoots(`${ca.cert}${leaf.cert}`)
  assert.equal(mixed.ok, false)
  if (!mixed.ok) {
    assert.equal(mixed.kind, 'not_ca')
    assert.match(mixed.reason, /not a CA/)
  }
})

test('the metrics role names the domain', () => {
  assert.equal(rootsRole('north.local'), 'gateway-trust:north.local')
})
