// h2 keep-alive on both h2 transports (node:http2 and the native engine), against a real TLS peer
// that speaks just enough h2 and never answers a PING: a quiet one is declared dead at the PING
// timeout; a busy one (still sending frames) lives until it goes quiet, since a PING ACK waits
// behind the DATA the peer sent before it.
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { createServer as createTlsServer, type TLSSocket } from 'node:tls'
import { describe, it } from 'node:test'
import { MeshError } from '../../core/errors.js'
import type { TlsMaterial, TransportFactory } from '../../transports/contract.js'
import { h2Transport, type H2Options } from '../../transports/h2/index.js'
import { h2NativeTransport } from '../../transports/h2-native/index.js'
import { transportRig } from '../helpers/transport-rig.js'
import { nativeSkip } from '../helpers/transports.js'

const TRANSPORTS: Array<{ name: string, factory: (options: H2Options) => TransportFactory, skip: string | false }> = [
  { name: 'h2 (node:http2)', factory: h2Transport, skip: false },
  { name: 'h2 (native engine)', factory: h2NativeTransport as (options: H2Options) => TransportFactory, skip: nativeSkip() },
]

for (const { name, factory, skip } of TRANSPORTS) {
  describe(`keep-alive: ${name}`, { skip, timeout: 30_000 }, () => {
    const rig = transportRig(factory, {} as H2Options)

    it('kills a session whose peer leaves a PING unanswered and sends nothing else', async () => {
      const silent = await silentH2Peer(rig.serverTls)
      rig.cleanups.push(() => silent.close())
      const session = await rig.connect(silent.port, { keepAliveMs: 50, keepAliveTimeoutMs: 100 })
      const err = await new Promise<Error | undefined>((resolve) => session.onClose(resolve))
      assert.ok(err instanceof MeshError && err.code === 'E_PEER_RESET', String(err))
      assert.match(err.message, /PING unanswered/)
      assert.equal(session.closed, true)
    })

    it('keeps a session whose PING answer is late while the peer is still sending, and kills it once the peer goes quiet', async () => {
      // 40 frames 25 ms apart: about 1 s of traffic, ten PING timeouts of 100 ms, none answered.
      const busy = await silentH2Peer(rig.serverTls, { everyMs: 25, times: 40 })
      rig.cleanups.push(() => busy.close())
      const startedAt = Date.now()
      const session = await rig.connect(busy.port, { keepAliveMs: 50, keepAliveTimeoutMs: 100 })
      const err = await new Promise<Error | undefined>((resolve) => session.onClose(resolve))
      assert.ok(err instanceof MeshError && err.code === 'E_PEER_RESET', String(err))
      assert.match(err.message, /PING unanswered .* nothing else read/)
      // Not at the first timeout: it lived while the peer talked (40 × 25 ms).
      assert.ok(Date.now() - startedAt >= 900, `closed after ${Date.now() - startedAt} ms, while the peer was still sending`)
    })
  })
}

/**
 * A TLS peer that negotiates h2 and sends one empty SETTINGS frame (RFC 9113 §6.5), then reads
 * and ignores everything: PINGs go unanswered.
 */
async function silentH2Peer (tls: TlsMaterial, chatter?: { everyMs: number, times: number }): Promise<{ port: number, close: () => void }> {
  const sockets = new Set<TLSSocket>()
  const server = createTlsServer({ ...tls, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3', ALPNProtocols: ['h2'] }, (socket) => {
    sockets.add(socket)
    socket.on('error', () => {})
    socket.write(Buffer.from([0, 0, 0, 0x4, 0, 0, 0, 0, 0]))
    socket.resume()
    if (chatter === undefined) return
    // Busy but never answering: a PING of its own (RFC 9113 §6.7, 8 bytes of opaque data) every
    // `everyMs`, `times` times, and then nothing.
    let sent = 0
    const timer = setInterval(() => {
      if (++sent > chatter.times || socket.destroyed) { clearInterval(timer); return }
      socket.write(Buffer.from([0, 0, 8, 0x6, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, sent & 0xff]))
    }, chatter.everyMs)
    socket.once('close', () => clearInterval(timer))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      for (const socket of sockets) socket.destroy()
      server.close()
    },
  }
}
