// A trust domain's CA file (gateway.trustDomains.<domain>.ca) is watched while the gateway runs:
// replacing it with a new CA makes callers of the new CA pass, and the old CA's callers are
// refused, on a session that was up before the change with E_GATEWAY_DOMAIN_MISMATCH (its next
// stream is checked against the new roots) and in the handshake of a new session (the listener no
// longer trusts the old CA). A garbage file or a file holding a leaf certificate is refused with
// E_TRUST_ROOTS_REJECTED and a metric, and the roots in use stay. Real processes, CAs made here,
// every wait bounded.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createCertificateAuthority, loadCertificateAuthority, type CertificateAuthority } from '../../core/identity/pki.js'
import { GATEWAY_HEADERS } from '../../src/multicluster/wire.js'
import type { PeerSession, Transport } from '../../transports/contract.js'
import { h2Transport } from '../../transports/h2/index.js'
import { h2NativeAvailability } from '../../transports/h2-native/index.js'
import { eventually, startClusters, type Clusters } from '../helpers/clusters.js'
import { meshErrorCode as code } from '../helpers/mesh-error-code.js'
import { quietLogger } from '../helpers/transport-rig.js'

const GATEWAY = 'spiffe://east.local/ns/default/sa/gateway'
const NORTH_CLIENT = 'spiffe://north.local/ns/default/sa/client'
const ROLE = 'gateway-trust:north.local'
const client: Transport = h2Transport()({ logger: quietLogger })

for (const dataPlane of ['js', 'native'] as const) {
  const skip = dataPlane === 'native' && !h2NativeAvailability().available ? 'the engine addon does not load here' : false
  describe(`gateway: a trust domain's CA file is reloaded while it runs (dataPlane ${dataPlane})`, { timeout: 120_000, skip }, () => {
    let c: Clusters
    let dir = ''
    let caFile = ''
    let eastCa: CertificateAuthority
    let oldCa: CertificateAuthority
    let newCa: CertificateAuthority
    let sessionUp: PeerSession
    const sessions: PeerSession[] = []

    /** A session to the gateway as north.local's client, with a certificate from `ca`. */
    const dial = async (ca: CertificateAuthority): Promise<PeerSession> => {
      const issued = await ca.issue(NORTH_CLIENT)
      const session = await client.connect({
        address: { host: '127.0.0.1', port: c.ports.gateway },
        expectedIdentity: GATEWAY,
        tls: { ca: eastCa.cert, cert: issued.cert, key: issued.key },
        connectTimeoutMs: 5000,
      })
      sessions.push(session)
      return session
    }
    const tunnel = async (session: PeerSession): Promise<number> => {
      const t = await session.tunnel({ method: 'CONNECT', authority: 'web-north', path: '', scheme: 'https', headers: { [GATEWAY_HEADERS.mode]: 'e2e' } })
      t.stream.destroy()
      return t.head.status
    }
    /** Replaces the CA file the way a secret update does: write aside, rename over. */
    const replace = async (text: string): Promise<void> => {
      await writeFile(`${caFile}.tmp`, text)
      await rename(`${caFile}.tmp`, caFile)
    }
    const gatewayMetric = async (name: string, labels: string): Promise<number> => {
      const text = await (await fetch(`http://127.0.0.1:${c.ports.gatewayAdmin}/metrics`, { signal: AbortSignal.timeout(5000) })).text()
      const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(labels))
      return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1))
    }
    const newCaPasses = async (): Promise<boolean> => {
      try {
        return await tunnel(await dial(newCa)) === 200
      } catch {
        return false
      }
    }

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'meshgate-north-'))
      caFile = join(dir, 'ca.crt')
      oldCa = await createCertificateAuthority('north.local')
      newCa = await createCertificateAuthority('north.local')
      await writeFile(caFile, oldCa.cert)
      c = await startClusters({
        dataPlane,
        h3Listeners: false,
        extraTrustDomains: `    north.local: { ca: "${caFile}" }\n`,
        extraGatewayServices: { 'web-north': 'http' },
        extraExports: '    web-north: { allow: ["spiffe://north.local"] }\n',
      })
      eastCa = await loadCertificateAuthority({
        cert: await readFile(join(c.dir, 'pki', 'east.local', 'ca.crt'), 'utf8'),
        key: await readFile(join(c.dir, 'pki', 'east.local', 'ca.key'), 'utf8'),
      })
    })
    after(async () => {
      for (const s of sessions) s.destroy()
      await c?.close()
      await rm(dir, { recursive: true, force: true })
    })

    it('at start the old CA\'s caller passes and the new CA\'s is refused in the handshake', async () => {
      sessionUp = await dial(oldCa)
      assert.equal(await tunnel(sessionUp), 200)
      assert.equal(await code(dial(newCa)), 'E_PEER_TLS')
    })

    it('a new CA file: the new CA\'s callers pass, the old CA\'s are refused (E_GATEWAY_DOMAIN_MISMATCH on a session up, the handshake on a new one)', async () => {
      await replace(newCa.cert)
      await eventually(newCaPasses, 'the gateway to accept a caller of the new CA', 10_000)
      assert.equal(await code(tunnel(sessionUp)), 'E_GATEWAY_DOMAIN_MISMATCH')
      assert.equal(await code(dial(oldCa)), 'E_PEER_TLS')
      assert.equal(await gatewayMetric('meshgate_identity_reloads_total', `role="${ROLE}"`), 1)
    })

    it('a garbage file and a file holding a leaf certificate are refused; the new roots stay in use', async () => {
      await replace('this is not a certificate\n')
      await eventually(async () => await gatewayMetric('meshgate_identity_reloads_refused_total', 'reason="no_certificate"') === 1, 'the garbage file to be refused', 10_000)
      assert.match(c.procs.gateway.output(), /E_TRUST_ROOTS_REJECTED.*north\.local.*holds no PEM certificate/)
      assert.equal(await tunnel(await dial(newCa)), 200)
      assert.equal(await code(tunnel(sessionUp)), 'E_GATEWAY_DOMAIN_MISMATCH')
      assert.equal(await code(dial(oldCa)), 'E_PEER_TLS')

      await replace((await newCa.issue(NORTH_CLIENT)).cert)
      await eventually(async () => await gatewayMetric('meshgate_identity_reloads_refused_total', 'reason="not_ca"') === 1, 'the leaf certificate file to be refused', 10_000)
      assert.equal(await tunnel(await dial(newCa)), 200)
      assert.equal(await gatewayMetric('meshgate_identity_reloads_total', `role="${ROLE}"`), 1)
    })
  })
}
