// Identity rotation through a real pair, on every transport and data path: the certificate
// rotated under load loses no request and new sessions present it; a CA rotation with an overlap
// window (bundle old+new, then new only) keeps traffic flowing and new sessions dial with the new
// root; a bad rotation (mismatched key, expired, foreign CA) is refused with the file and the
// reason in the log, and the old certificate stays in use; the expiry metric follows.
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { describe, it } from 'node:test'
import { pino } from 'pino'
import { createCertificateAuthority } from '../../core/identity/pki.js'
import type { RunningProxy } from '../../src/proxy.js'
import type { TlsMaterial } from '../../transports/contract.js'
import { get } from '../helpers/clients.js'
import { startPair, type Pair } from '../helpers/pair.js'
import { makePki, type TestPki } from '../helpers/pki.js'
import { presentedSerial, replaceFile, serialOf, waitFor } from '../helpers/rotate.js'
import { pairTransports, sessionTransports } from '../helpers/transports.js'

const DAY_MS = 86_400_000

/** Writes a side's new key and certificate (and CA file, if given), each by write-then-rename. */
async function rotate (pair: Pair, side: 'server' | 'client', tls: Partial<TlsMaterial>): Promise<void> {
  if (tls.ca !== undefined) await replaceFile(join(pair.dir, `${side}-ca.crt`), tls.ca)
  if (tls.key !== undefined) await replaceFile(join(pair.dir, `${side}.key`), tls.key)
  if (tls.cert !== undefined) await replaceFile(join(pair.dir, `${side}.crt`), tls.cert)
}

async function metricValue (proxy: RunningProxy, name: string, labels: string): Promise<number | undefined> {
  const text = await proxy.metrics.registry.metrics()
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`))
  return line === undefined ? undefined : Number(line.split(' ').pop())
}

/** GETs web.test through the pair until told to stop (at most `max` requests, 60 s); counts what failed. */
function load (pair: Pair, workers: number, max: number): { stop: () => Promise<{ ok: number, failed: string[] }>, done: () => number } {
  const state = { stopped: false }
  let ok = 0
  const failed: string[] = []
  const deadline = Date.now() + 60_000
  const worker = async (): Promise<void> => {
    while (!state.stopped && ok + failed.length < max && Date.now() < deadline) {
      try {
        const reply = await get(pair.appPort, '/', 'web.test', 10_000)
        if (reply.status === 200) ok++
        else failed.push(`${reply.status} ${reply.error ?? ''}`)
      } catch (err) {
        failed.push(String(err))
      }
    }
  }
  const running = Promise.all(Array.from({ length: workers }, async () => await worker()))
  return {
    done: () => ok + failed.length,
    stop: async () => {
      state.stopped = true
      await running
      return { ok, failed }
    },
  }
}

/** Closes the client's pooled peer sessions gracefully, so the next request dials a new one. */
async function drainPool (pair: Pair): Promise<void> {
  await Promise.all((pair.client.outbound?.pool.sessions() ?? []).map(async (s) => await s.close()))
}

for (const t of pairTransports()) {
  describe(`identity rotation through the pair (${t.label})`, { skip: t.skip, timeout: 120_000 }, () => {
    it('rotates both certificates under load: no request fails, new sessions present the new certificate, the expiry metric follows', async () => {
      const pki = await makePki()
      const pair = await startPair({ transport: t.name, dataPlane: t.dataPlane, pki })
      try {
        const server = pair.server.identity.inbound
        const client = pair.client.identity.outbound
        assert.ok(server !== undefined && client !== undefined)
        const expiryBefore = await metricValue(pair.server, 'meshgate_identity_expiry_seconds', 'role="inbound"')
        assert.ok(expiryBefore !== undefined && expiryBefore > 300 * 86_400, `a one-year certificate: ${String(expiryBefore)}`)

        const traffic = load(pair, 4, 2000)
        await waitFor(() => traffic.done() >= 40, 30_000, 'traffic before the rotation')
        const notAfter = new Date(Date.now() + 30 * DAY_MS)
        const nextServer = await pki.ca.issue(pki.id('server'), { notAfter })
        const nextClient = await pki.ca.issue(pki.id('client'), { notAfter })
        await rotate(pair, 'server', nextServer)
        await rotate(pair, 'client', nextClient)
        await waitFor(() => server.leaf?.serial === serialOf(nextServer.cert), 10_000, 'the inbound side to rotate')
        await waitFor(() => client.leaf?.serial === serialOf(nextClient.cert), 10_000, 'the outbound side to rotate')
        // Sessions up drain normally; the ones dialled next use the new client certificate.
        await drainPool(pair)
        const atRotation = traffic.done()
        await waitFor(() => traffic.done() >= atRotation + 40, 30_000, 'traffic after the rotation')
        const { ok, failed } = await traffic.stop()
        assert.deepEqual(failed, [], 'zero failed requests across the rotation')
        assert.ok(ok >= 80, `requests carried: ${ok}`)
        assert.deepEqual(sessionTransports(pair), [t.name], 'the traffic went over the transport under test')
        assert.equal(pair.client.dataPlane, t.dataPlane)

        assert.equal(await presentedSerial(pair.peerPort, pki.ca.cert, { ca: pki.ca.cert, ...nextClient }), serialOf(nextServer.cert),
          'a fresh TLS client sees the new serial')
        const expiryAfter = await metricValue(pair.server, 'meshgate_identity_expiry_seconds', 'role="inbound"')
        assert.ok(expiryAfter !== undefined && Math.abs(expiryAfter - 30 * 86_400) < 120, `expiry after rotation: ${String(expiryAfter)}`)
        assert.equal(await metricValue(pair.server, 'meshgate_identity_reloads_total', 'role="inbound"'), 1)
      } finally {
        await pair.close()
      }
    })

    it('rotates the CA with an overlap window: bundle old+new, new certificates, then the new root only', async () => {
      const pki = await makePki()
      const pair = await startPair({ transport: t.name, dataPlane: t.dataPlane, pki })
      try {
        const server = pair.server.identity.inbound
        const client = pair.client.identity.outbound
        assert.ok(server !== undefined && client !== undefined)
        const next = await createCertificateAuthority('test.local')
        const ok = async (what: string): Promise<void> => {
          const reply = await get(pair.appPort, '/', 'web.test', 15_000)
          assert.equal(reply.status, 200, `${what}: ${reply.status} ${reply.error ?? ''} ${reply.body}`)
        }

        // 1. Both sides trust both roots.
        const bundle = pki.ca.cert + next.cert
        await rotate(pair, 'server', { ca: bundle })
        await rotate(pair, 'client', { ca: bundle })
        await waitFor(() => server.leaf?.roots.length === 2 && client.leaf?.roots.length === 2, 10_000, 'both sides to trust the bundle')
        await drainPool(pair)
        await ok('with the bundle')

        // 2. Certificates of the new CA (the bundle still trusts the old one, so peers mid-way are fine).
        const [serverCert, clientCert] = await Promise.all([next.issue(pki.id('server')), next.issue(pki.id('client'))])
        await rotate(pair, 'server', serverCert)
        await waitFor(() => server.leaf?.serial === serialOf(serverCert.cert), 10_000, 'the server certificate of the new CA')
        await drainPool(pair)
        await ok('server on the new CA, client still on the old')
        await rotate(pair, 'client', clientCert)
        await waitFor(() => client.leaf?.serial === serialOf(clientCert.cert), 10_000, 'the client certificate of the new CA')
        await drainPool(pair)
        await ok('both on the new CA, both trusting both')

        // 3. The new root only: new sessions dial and are accepted with it alone.
        await rotate(pair, 'server', { ca: next.cert })
        await rotate(pair, 'client', { ca: next.cert })
        await waitFor(() => server.leaf?.roots.length === 1 && client.leaf?.roots.length === 1, 10_000, 'both sides to trust only the new root')
        await drainPool(pair)
        await ok('the new root only')
        assert.deepEqual(sessionTransports(pair), [t.name], 'a session of the transport under test, dialled with the new root')
        const clientTls = { ca: next.cert, ...clientCert }
        assert.equal(await presentedSerial(pair.peerPort, next.cert, clientTls), serialOf(serverCert.cert))
        await assert.rejects(presentedSerial(pair.peerPort, pki.ca.cert, clientTls), /certificate/i, 'a client trusting only the old root refuses the server')
        assert.equal(await metricValue(pair.server, 'meshgate_identity_reloads_total', 'role="inbound"'), 3)
      } finally {
        await pair.close()
      }
    })

    it('refuses a bad rotation (mismatched key, expired, foreign CA) with the file and reason, and keeps the old certificate', async () => {
      const pki: TestPki = await makePki()
      const lines: Array<Record<string, unknown>> = []
      const sink = new Writable({
        write (chunk: Buffer, _enc, done) {
          for (const l of chunk.toString('utf8').split('\n')) if (l !== '') lines.push(JSON.parse(l) as Record<string, unknown>)
          done()
        },
      })
      const pair = await startPair({ transport: t.name, dataPlane: t.dataPlane, pki, clientLogger: pino({ level: 'info' }, sink) })
      try {
        const server = pair.server.identity.inbound
        const client = pair.client.identity.outbound
        assert.ok(server !== undefined && client !== undefined)
        const serverSerial = server.leaf?.serial
        const clientSerial = client.leaf?.serial
        const refusals = async (proxy: RunningProxy, role: string, reason: string): Promise<number> =>
          await metricValue(proxy, 'meshgate_identity_reloads_refused_total', `role="${role}",reason="${reason}"`) ?? 0
        const clientCert = join(pair.dir, 'client.crt')
        const clientKey = join(pair.dir, 'client.key')

        // A certificate whose key is not the one on disk.
        const other = await pki.ca.issue(pki.id('client'))
        await rotate(pair, 'client', { cert: other.cert })
        await waitFor(async () => await refusals(pair.client, 'outbound', 'key_mismatch') === 1, 10_000, 'the mismatched pair to be refused')
        const mismatch = lines.find((l) => l.code === 'E_IDENTITY_REJECTED' && l.kind === 'key_mismatch')
        assert.equal(mismatch?.file, clientKey)
        assert.match(String(mismatch?.msg), /key file .*client\.key does not match the certificate .*; the previous identity stays in use/)

        // An expired pair.
        const expired = await pki.ca.issue(pki.id('client'), { notBefore: new Date(Date.now() - 3 * DAY_MS), notAfter: new Date(Date.now() - DAY_MS) })
        await rotate(pair, 'client', expired)
        await waitFor(async () => await refusals(pair.client, 'outbound', 'expired') === 1, 10_000, 'the expired certificate to be refused')
        const late = lines.find((l) => l.code === 'E_IDENTITY_REJECTED' && l.kind === 'expired')
        assert.equal(late?.file, clientCert)
        assert.match(String(late?.msg), /cert file .*client\.crt has expired \(notAfter /)

        // A pair from a foreign CA, on both sides.
        const foreign = await createCertificateAuthority('test.local')
        await rotate(pair, 'client', await foreign.issue(pki.id('client')))
        await rotate(pair, 'server', await foreign.issue(pki.id('server')))
        await waitFor(async () => await refusals(pair.client, 'outbound', 'untrusted') === 1 && await refusals(pair.server, 'inbound', 'untrusted') === 1,
          10_000, 'the foreign certificates to be refused')
        const untrusted = lines.find((l) => l.code === 'E_IDENTITY_REJECTED' && l.kind === 'untrusted')
        assert.match(String(untrusted?.msg), /cert file .*client\.crt is not issued by a CA of the trust bundle/)

        // The old certificates stay in use, for sessions up and for new ones on both sides.
        assert.equal(server.leaf?.serial, serverSerial)
        assert.equal(client.leaf?.serial, clientSerial)
        assert.equal((await get(pair.appPort, '/', 'web.test', 15_000)).status, 200)
        await drainPool(pair)
        assert.equal((await get(pair.appPort, '/', 'web.test', 15_000)).status, 200, 'a new session dials with the kept client certificate')
        assert.equal(await presentedSerial(pair.peerPort, pki.ca.cert, await pki.workload('client')), serverSerial)
        assert.equal(await metricValue(pair.client, 'meshgate_identity_reloads_total', 'role="outbound"'), undefined, 'nothing was put into use')
      } finally {
        await pair.close()
      }
    })
  })
}
