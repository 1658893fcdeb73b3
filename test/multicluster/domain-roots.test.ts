// Each caller is held to the CA of the trust domain its SPIFFE ID names: with west.local and
// east.local both trusted by the gateway, a certificate from west's CA claiming an east.local
// identity (and the reverse) passes TLS but is refused with E_GATEWAY_DOMAIN_MISMATCH, on the h2
// listener of each data path (node:http2, the native engine) and on the h3 listener; callers of
// both domains with their own CA's certificates still pass. Real processes, certificates made here.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { loadCertificateAuthority, type CertificateAuthority } from '../../core/identity/pki.js'
import { EXPORTS_AUTHORITY, EXPORTS_PATH, GATEWAY_HEADERS } from '../../src/multicluster/wire.js'
import type { PeerSession, Transport } from '../../transports/contract.js'
import { h2Transport } from '../../transports/h2/index.js'
import { h2NativeAvailability } from '../../transports/h2-native/index.js'
import { h3Availability, h3Transport } from '../../transports/h3/index.js'
import { startClusters, type Clusters } from '../helpers/clusters.js'
import { meshErrorCode as code } from '../helpers/mesh-error-code.js'
import { quietLogger } from '../helpers/transport-rig.js'

const GATEWAY = 'spiffe://east.local/ns/default/sa/gateway'
const WEST_CLIENT = 'spiffe://west.local/ns/default/sa/client'
const EAST_CLIENT = 'spiffe://east.local/ns/default/sa/client'
const clients: Record<string, Transport> = { h2: h2Transport()({ logger: quietLogger }) }
if (h3Availability().available) clients.h3 = h3Transport()({ logger: quietLogger })

for (const dataPlane of ['js', 'native'] as const) {
  const skip = dataPlane === 'native' && !h2NativeAvailability().available ? 'the engine addon does not load here' : false
  describe(`gateway: each caller's chain leads to its own domain's CA (dataPlane ${dataPlane})`, { timeout: 120_000, skip }, () => {
    let c: Clusters
    let westCa: CertificateAuthority
    let eastCa: CertificateAuthority
    const sessions: PeerSession[] = []

    /** A session to the gateway over `transport` as `id`, with a certificate from `ca`. */
    const dial = async (transport: string, ca: CertificateAuthority, id: string): Promise<PeerSession> => {
      const issued = await ca.issue(id)
      const session = await clients[transport].connect({
        address: { host: '127.0.0.1', port: c.ports.gateway },
        expectedIdentity: GATEWAY,
        tls: { ca: eastCa.cert, cert: issued.cert, key: issued.key },
        connectTimeoutMs: 5000,
      })
      sessions.push(session)
      assert.equal(session.transport, transport)
      return session
    }
    const e2eTunnel = async (session: PeerSession, service: string): Promise<number> => {
      const tunnel = await session.tunnel({ method: 'CONNECT', authority: service, path: '', scheme: 'https', headers: { [GATEWAY_HEADERS.mode]: 'e2e' } })
      tunnel.stream.destroy()
      return tunnel.head.status
    }
    const exportsAnswer = async (session: PeerSession): Promise<{ status: number, code: unknown }> => {
      const response = await session.request({ method: 'GET', authority: EXPORTS_AUTHORITY, path: EXPORTS_PATH, scheme: 'https', headers: {} }, null)
      response.body.resume()
      return { status: response.head.status, code: response.head.headers['meshgate-error'] }
    }

    before(async () => {
      c = await startClusters({
        dataPlane,
        h3Listeners: clients.h3 !== undefined,
        extraTrustDomains: '    east.local: { ca: pki/east.local/ca.crt }\n',
        extraGatewayServices: { 'web-both': 'http' },
        extraExports: '    web-both: { allow: ["spiffe://west.local", "spiffe://east.local"] }\n',
      })
      const load = async (domain: string): Promise<CertificateAuthority> => await loadCertificateAuthority({
        cert: await readFile(join(c.dir, 'pki', domain, 'ca.crt'), 'utf8'),
        key: await readFile(join(c.dir, 'pki', domain, 'ca.key'), 'utf8'),
      })
      westCa = await load('west.local')
      eastCa = await load('east.local')
    })
    after(async () => {
      for (const s of sessions) s.destroy()
      await c?.close()
    })

    for (const transport of ['h2', 'h3']) {
      const noH3 = transport === 'h3' && clients.h3 === undefined ? 'the QUIC addon does not load here' : false
      it(`${transport}: callers of west.local and east.local with their own CA's certificates pass`, { skip: noH3 }, async () => {
        assert.equal(await e2eTunnel(await dial(transport, westCa, WEST_CLIENT), 'web-both'), 200)
        assert.equal(await e2eTunnel(await dial(transport, eastCa, EAST_CLIENT), 'web-both'), 200)
        assert.equal((await exportsAnswer(await dial(transport, eastCa, EAST_CLIENT))).status, 200)
      })

      it(`${transport}: west's CA claiming an east.local identity is refused with E_GATEWAY_DOMAIN_MISMATCH (tunnel and exports)`, { skip: noH3 }, async () => {
        const impostor = await dial(transport, westCa, EAST_CLIENT)
        assert.equal(await code(e2eTunnel(impostor, 'web-both')), 'E_GATEWAY_DOMAIN_MISMATCH')
        assert.deepEqual(await exportsAnswer(impostor), { status: 403, code: 'E_GATEWAY_DOMAIN_MISMATCH' })
        // A second stream of the same session gets the same answer (the verdict is per session).
        assert.equal(await code(e2eTunnel(impostor, 'web-both')), 'E_GATEWAY_DOMAIN_MISMATCH')
      })

      it(`${transport}: east's CA claiming a west.local identity is refused too, even for an export allowing that identity`, { skip: noH3 }, async () => {
        const impostor = await dial(transport, eastCa, WEST_CLIENT)
        assert.equal(await code(e2eTunnel(impostor, 'web')), 'E_GATEWAY_DOMAIN_MISMATCH')
        // The terminate path checks it as well.
        const response = await impostor.request({ method: 'GET', authority: 'web-term', path: '/', scheme: 'http', headers: { [GATEWAY_HEADERS.service]: 'web-term' } }, null)
        response.body.resume()
        assert.equal(response.head.headers['meshgate-error'], 'E_GATEWAY_DOMAIN_MISMATCH')
      })
    }
  })
}
