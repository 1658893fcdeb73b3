// Identity rotation at the transport: a listener's setTls() changes what new handshakes present
// and trust (a CA bundle overlapping two roots, then the new root only), while sessions already
// up keep working and drain as usual; PEM that does not load is refused and the old stays.
// Each transport: h2 on node:tls, h2 on the native engine (GnuTLS), h3 (QUIC addon, GnuTLS).
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { MeshError } from '../../core/errors.js'
import { createCertificateAuthority, spiffeId, type CertificateAuthority } from '../../core/identity/pki.js'
import type { PeerSession, TlsMaterial, Transport, TransportListener } from '../../transports/contract.js'
import { h2Transport } from '../../transports/h2/index.js'
import { h2NativeTransport } from '../../transports/h2-native/index.js'
import { h3Transport } from '../../transports/h3/index.js'
import { presentedSerial, serialOf } from '../helpers/rotate.js'
import { quietLogger } from '../helpers/transport-rig.js'
import { h3Skip, nativeSkip } from '../helpers/transports.js'

const SERVER = spiffeId('test.local', 'server')
const CLIENT = spiffeId('test.local', 'client')

const TRANSPORTS: Array<{ label: string, make: () => Transport, skip: string | false, tcp: boolean }> = [
  { label: 'h2 (node:tls)', make: () => h2Transport({})({ logger: quietLogger }), skip: false, tcp: true },
  { label: 'h2 (native engine)', make: () => h2NativeTransport({})({ logger: quietLogger }), skip: nativeSkip(), tcp: true },
  { label: 'h3 (QUIC addon)', make: () => h3Transport({})({ logger: quietLogger }), skip: h3Skip(), tcp: false },
]

async function status (session: PeerSession): Promise<number> {
  const response = await session.request({ method: 'GET', authority: 'web.test', path: '/', scheme: 'https', headers: {} }, null)
  response.body.resume()
  await new Promise((resolve) => response.body.once('end', resolve))
  return response.head.status
}

for (const entry of TRANSPORTS) {
  describe(`listener credential swap: ${entry.label}`, { skip: entry.skip, timeout: 60_000 }, () => {
    let caA: CertificateAuthority
    let caB: CertificateAuthority
    let server: { a: TlsMaterial, b: TlsMaterial }
    let client: { a: TlsMaterial, b: TlsMaterial }
    let transport: Transport
    let listener: TransportListener
    const sessions: PeerSession[] = []
    const connect = async (tls: TlsMaterial): Promise<PeerSession> => {
      const session = await transport.connect({ address: listener.address(), expectedIdentity: SERVER, tls, connectTimeoutMs: 5000 })
      sessions.push(session)
      return session
    }
    const refused = async (tls: TlsMaterial, what: string): Promise<void> => {
      await assert.rejects(connect(tls), (err: unknown) => {
        assert.ok(err instanceof MeshError, `${what}: ${String(err)}`)
        assert.equal(err.code, 'E_PEER_TLS', `${what}: ${err.message}`)
        return true
      }, what)
    }

    before(async () => {
      caA = await createCertificateAuthority('test.local')
      caB = await createCertificateAuthority('test.local')
      const [sa, sb, ca, cb] = await Promise.all([caA.issue(SERVER), caB.issue(SERVER), caA.issue(CLIENT), caB.issue(CLIENT)])
      server = { a: { ca: caA.cert, ...sa }, b: { ca: caB.cert, ...sb } }
      client = { a: { ca: caA.cert, ...ca }, b: { ca: caB.cert, ...cb } }
      transport = entry.make()
      listener = await transport.listen({ host: '127.0.0.1', port: 0, tls: server.a }, {
        request: (exchange) => exchange.respond({ status: 200, headers: {} }, null),
        tunnel: (tunnel) => tunnel.reject(new MeshError('E_TARGET_NOT_ALLOWED', 'no tunnels here')),
      })
    })
    after(async () => {
      // The listener goes first while sessions still hold the credentials they started with.
      listener.destroy()
      for (const s of sessions) s.destroy()
    })

    it('rotates CA and certificate through an overlap window; sessions up are untouched', async () => {
      const old = await connect(client.a)
      assert.equal(await status(old), 200)

      // Overlap: trust both roots, present the certificate of the new CA.
      listener.setTls({ ca: caA.cert + caB.cert, cert: server.b.cert, key: server.b.key })
      assert.equal(await status(old), 200, 'the session set up before the swap keeps working')
      await refused(client.a, 'a client trusting only the old CA refuses the new server certificate')
      const oldClientCert = await connect({ ...client.a, ca: caA.cert + caB.cert })
      const newClientCert = await connect({ ...client.b, ca: caB.cert })
      assert.equal(await status(oldClientCert), 200, 'a client certificate of the old CA is still trusted in the overlap')
      assert.equal(await status(newClientCert), 200, 'a client certificate of the new CA is trusted')
      if (entry.tcp) assert.equal(await presentedSerial(listener.address().port, caB.cert, client.b), serialOf(server.b.cert))

      // Overlap over: the new root only.
      listener.setTls(server.b)
      await refused({ ...client.a, ca: caB.cert }, 'a client certificate of the old CA is refused after the overlap')
      assert.equal(await status(await connect(client.b)), 200)
      assert.equal(await status(old), 200, 'the first session still drains normally')
      assert.equal(await status(oldClientCert), 200)
    })

    it('refuses PEM that does not load and keeps the credentials in use', async () => {
      assert.throws(() => listener.setTls({ ca: caB.cert, cert: 'not a certificate', key: 'not a key' }))
      assert.equal(await status(await connect(client.b)), 200, 'new sessions still get the previous certificate')
      if (entry.tcp) assert.equal(await presentedSerial(listener.address().port, caB.cert, client.b), serialOf(server.b.cert))
    })

    it('many swaps while sessions come and go (each session keeps its own credentials alive)', async () => {
      const live: PeerSession[] = []
      for (let i = 0; i < 20; i++) {
        listener.setTls(i % 2 === 0 ? { ca: caA.cert + caB.cert, cert: server.a.cert, key: server.a.key } : { ca: caA.cert + caB.cert, cert: server.b.cert, key: server.b.key })
        const s = await connect({ ...client.b, ca: caA.cert + caB.cert })
        live.push(s)
        if (live.length > 3) {
          const done = live.shift() as PeerSession
          assert.equal(await status(done), 200)
          await done.close()
        }
      }
      for (const s of live) assert.equal(await status(s), 200)
    })
  })
}
