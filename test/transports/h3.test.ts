// The h3 transport: the shared conformance suite unchanged, plus what only QUIC has (UDP noise, MAX_STREAMS, path stats).
import assert from 'node:assert/strict'
import { createSocket, type Socket } from 'node:dgram'
import { Readable } from 'node:stream'
import { describe, it } from 'node:test'
import { MeshError } from '../../core/errors.js'
import type {
  InboundExchange, QuicPathSample, RequestHead, TlsMaterial, TransportObserver,
} from '../../transports/contract.js'
import { TransportRegistry } from '../../transports/registry.js'
import { bufferShortfall, h3Availability, h3Transport, type H3Listener, type H3Options } from '../../transports/h3/index.js'
import { makePki } from '../helpers/pki.js'
import { runTransportConformance } from './conformance.js'
import { quietLogger, transportRig } from '../helpers/transport-rig.js'

const availability = h3Availability()
/** `false` when the QUIC addon loads, else why these tests are skipped. */
const SKIP: string | false = availability.available ? false : `QUIC addon not built (${availability.installHint})`

if (SKIP === false) {
  runTransportConformance('h3', async () => ({ transport: h3Transport({ keepAliveMs: 1000 })({ logger: quietLogger }) }))
} else {
  it('transport conformance: h3', { skip: SKIP }, () => {})
}

describe('h3 only', { timeout: 60_000, skip: SKIP }, () => {
  const rig = transportRig(h3Transport, {} as H3Options)
  const { cleanups, transport, listen, connect } = rig

  it('garbage datagrams to the listener\'s UDP port do not disturb its sessions', async () => {
    const listener = await listen({}, (exchange) => exchange.respond({ status: 200, headers: {} }, exchange.body))
    const session = await connect(listener.address().port)
    const noise = createSocket('udp4')
    cleanups.push(() => noise.close())
    const { port } = listener.address()
    const send = async (buf: Buffer): Promise<void> => await new Promise((resolve) => noise.send(buf, port, '127.0.0.1', () => resolve()))
    // Short junk, a long-header Initial look-alike of an unknown version, and 1200-byte random packets.
    const junk = [Buffer.from('hello'), Buffer.alloc(0), Buffer.concat([Buffer.from([0xc0, 0x0a, 0x0a, 0x0a, 0x0a, 8]), Buffer.alloc(1300, 7)])]
    for (let i = 0; i < 50; i++) junk.push(Buffer.from(Array.from({ length: 1200 }, (_, j) => (i * 131 + j * 7) & 0xff)))
    const payload = Buffer.alloc(2 * 1024 * 1024, 9)
    const echoed = session.request(get('/echo', 'POST'), Readable.from([payload.subarray(0, 1024 * 1024), payload.subarray(1024 * 1024)]))
    for (const buf of junk) await send(buf)
    const response = await echoed
    const body = await collect(response.body)
    assert.equal(body.length, payload.length)
    assert.ok(body.equals(payload))
    const again = await session.request(get('/echo', 'POST'), Readable.from([Buffer.from('still here')]))
    assert.equal((await collect(again.body)).toString(), 'still here')
    assert.equal(session.closed, false)
  })

  it('is unavailable while open streams use up the peer\'s MAX_STREAMS, and queues nothing past it', async () => {
    const held: InboundExchange[] = []
    const listener = await listen({ maxConcurrentStreams: 2 }, (exchange) => { held.push(exchange) })
    const session = await connect(listener.address().port)
    assert.equal(session.available, true)
    assert.equal(session.streamCapacity, 2)
    const pending = [session.request(get('/a'), null), session.request(get('/b'), null)]
    await until(() => held.length === 2)
    assert.equal(session.available, false)
    assert.equal(session.streamCapacity, 0)
    for (const exchange of held) exchange.respond({ status: 200, headers: {} }, Readable.from([Buffer.from('done')]))
    for (const response of await Promise.all(pending)) await collect(response.body)
    await until(() => session.available)
  })

  it('reports handshakes, sessions, streams, RTT and QUIC path samples to the observer, and registers by name', async () => {
    const events: string[] = []
    const rtts: number[] = []
    const paths: QuicPathSample[] = []
    const observer: TransportObserver & { quicPath: (name: string, s: QuicPathSample) => void } = {
      handshake: (name, side, result) => events.push(`${name} handshake ${side} ${result}`),
      sessionOpened: (name, side) => events.push(`${name} session+ ${side}`),
      sessionClosed: (name, side) => events.push(`${name} session- ${side}`),
      streamOpened: (name, side) => events.push(`${name} stream+ ${side}`),
      streamClosed: (name, side) => events.push(`${name} stream- ${side}`),
      rtt: (name, seconds) => { if (name === 'h3') rtts.push(seconds) },
      quicPath: (name, sample) => { if (name === 'h3') paths.push(sample) },
    }
    const registry = new TransportRegistry({ logger: quietLogger, observer })
    const h3 = registry.add(h3Transport({ keepAliveMs: 50 }))
    assert.equal(registry.get('h3'), h3)
    const listener = await h3.listen({ host: '127.0.0.1', port: 0, tls: rig.serverTls }, {
      request: (exchange) => exchange.respond({ status: 204, headers: {} }, null),
      tunnel: (tunnel) => tunnel.reject(new MeshError('E_TARGET_NOT_ALLOWED', 'no')),
    })
    cleanups.push(() => listener.destroy())
    const session = await h3.connect({ address: listener.address(), expectedIdentity: rig.pki.id('server'), tls: rig.clientTls, connectTimeoutMs: 3000 })
    const rtt = session.stats().rttSeconds
    assert.ok(rtt !== undefined && rtt > 0 && rtt < 1, `rtt right after the handshake: ${String(rtt)}`)
    const response = await session.request(get('/'), null)
    assert.equal(response.head.status, 204)
    await collect(response.body)
    await until(() => rtts.length >= 2 && paths.length >= 2)
    assert.ok(paths.every((p) => p.cwndBytes > 0 && p.lostPackets >= 0 && p.probeTimeouts >= 0))
    await session.close()
    await until(() => events.filter((e) => e.startsWith('h3 session-')).length === 2)
    for (const expected of ['h3 handshake client ok', 'h3 handshake server ok', 'h3 session+ client', 'h3 session+ server',
      'h3 stream+ client', 'h3 stream+ server', 'h3 stream- client', 'h3 stream- server', 'h3 session- client', 'h3 session- server']) {
      assert.equal(events.filter((e) => e === expected).length, 1, `${expected} in ${events.join(', ')}`)
    }
  })

  it('refuses bad client certificates at connect time (E_PEER_TLS), before any stream', async () => {
    const listener = await listen({}, (exchange) => exchange.respond({ status: 204, headers: {} }, null))
    const foreign = await makePki('foreign.local')
    const alien = await foreign.workload('client')
    const bad: TlsMaterial[] = [
      { ...alien, ca: rig.pki.ca.cert },
      await rig.pki.workload('client', { expired: true }),
    ]
    for (const tls of bad) {
      await assert.rejects(transport().connect({ address: listener.address(), expectedIdentity: rig.pki.id('server'), tls, connectTimeoutMs: 3000 }),
        (err: unknown) => err instanceof MeshError && err.code === 'E_PEER_TLS' && /refused our client/.test(err.message))
    }
  })

  it('a session the peer closes with GOAWAY ends cleanly; one the listener destroys reports E_PEER_RESET', async () => {
    const drained = await transport().listen({ host: '127.0.0.1', port: 0, tls: rig.serverTls }, {
      request: (exchange) => exchange.respond({ status: 204, headers: {} }, null),
      tunnel: (tunnel) => tunnel.reject(new MeshError('E_TARGET_NOT_ALLOWED', 'no')),
    })
    const clean = await connect(drained.address().port)
    const cleanErr = new Promise<Error | undefined>((resolve) => clean.onClose(resolve))
    await drained.close()
    assert.equal(await cleanErr, undefined)

    const killed = await listen({}, (exchange) => exchange.respond({ status: 204, headers: {} }, null))
    const lost = await connect(killed.address().port)
    const lostErr = new Promise<Error | undefined>((resolve) => lost.onClose(resolve))
    killed.destroy()
    const err = await lostErr
    assert.ok(err instanceof MeshError && err.code === 'E_PEER_RESET', String(err))
  })

  it('reports the UDP buffer sizes the kernel granted, and names the sysctls when it capped them', async () => {
    const listener = await transport({ recvBufferBytes: 64 * 1024, sendBufferBytes: 64 * 1024 }).listen({ host: '127.0.0.1', port: 0, tls: rig.serverTls }, {
      request: (exchange) => exchange.respond({ status: 204, headers: {} }, null),
      tunnel: (tunnel) => tunnel.reject(new MeshError('E_TARGET_NOT_ALLOWED', 'no')),
    }) as H3Listener
    cleanups.push(() => listener.destroy())
    const granted = listener.udpBuffers()
    assert.ok((granted.recvBytes ?? 0) >= 64 * 1024, `granted ${String(granted.recvBytes)}`)
    assert.equal(bufferShortfall({ recvBufferBytes: 64 * 1024, sendBufferBytes: 64 * 1024 }, granted), undefined)
    const capped = bufferShortfall({ recvBufferBytes: 8 * 1024 * 1024, sendBufferBytes: 1024 }, { recvBytes: 425_984, sendBytes: 4096 })
    assert.match(capped?.message ?? '', /net\.core\.rmem_max=8388608/)
    assert.doesNotMatch(capped?.message ?? '', /wmem_max/)
  })

  it('a quiet session ends at the QUIC idle timeout (a clean close); keep-alive PINGs keep another one open', async () => {
    const listener = await listen({}, (exchange) => exchange.respond({ status: 204, headers: {} }, null))
    const quiet = await connect(listener.address().port, { idleTimeoutMs: 300, keepAliveMs: 0 })
    const kept = await connect(listener.address().port, { idleTimeoutMs: 300, keepAliveMs: 100 })
    const quietEnd = new Promise<Error | undefined>((resolve) => quiet.onClose(resolve))
    assert.equal(await quietEnd, undefined, 'an idle timeout is not an error')
    assert.equal(quiet.available, false)
    await new Promise((resolve) => setTimeout(resolve, 700)) // more than two idle timeouts of quiet traffic
    assert.equal(kept.closed, false, 'keep-alive PINGs kept the other session open')
    const response = await kept.request(get('/'), null)
    assert.equal(response.head.status, 204)
  })

  it('a peer that goes silent with a request unanswered ends the session after peerSilenceMs, not at the idle timeout', async () => {
    const listener = await listen({}, (exchange) => exchange.respond({ status: 204, headers: {} }, null))
    const relay = await blackHoleRelay(listener.address().port)
    cleanups.push(() => relay.close())
    const watched = await connect(relay.port, { idleTimeoutMs: 30_000, keepAliveMs: 0, peerSilenceMs: 400 })
    const unwatched = await connect(relay.port, { idleTimeoutMs: 30_000, keepAliveMs: 0, peerSilenceMs: 0 })
    for (const session of [watched, unwatched]) assert.equal((await session.request(get('/'), null)).head.status, 204)
    const ended = new Promise<Error | undefined>((resolve) => watched.onClose(resolve))
    relay.drop = true // the server's machine is gone: nothing comes back, not even an ICMP error
    const lost = [watched, unwatched].map(async (session) => await session.request(get('/after'), null).then(() => 'answered', (err: unknown) => String(err)))
    const err = await Promise.race([ended, new Promise<Error>((resolve) => setTimeout(() => resolve(new Error('still open after 10 s')), 10_000))])
    assert.ok(err instanceof MeshError && /peer silent for 400 ms/.test(err.message), String(err))
    assert.notEqual(await lost[0], 'answered')
    assert.equal(unwatched.closed, false, 'without peerSilenceMs the session waits for its 30 s idle timeout')
    unwatched.destroy()
    await lost[1]
  })

  it('checks its options (E_CONFIG)', () => {
    assert.throws(() => h3Transport({ streamWindowBytes: -1 }), (err: unknown) => err instanceof MeshError && err.code === 'E_CONFIG' && /streamWindowBytes/.test(err.message))
    assert.throws(() => h3Transport({ keepAliveMs: 40_000, idleTimeoutMs: 30_000 }), (err: unknown) => err instanceof MeshError && err.code === 'E_CONFIG')
    assert.throws(() => h3Transport({ zeroRtt: true as unknown as false }), (err: unknown) => err instanceof MeshError && /zeroRtt/.test(err.message))
    assert.equal(h3Transport({ keepAliveMs: 0 })({ logger: quietLogger }).name, 'h3')
  })
})

/**
 * A UDP relay from a local port to 127.0.0.1:`target`, one upstream socket per client address so
 * that several sessions can share it, that drops every datagram both ways once `drop` is set.
 */
async function blackHoleRelay (target: number): Promise<{ port: number, drop: boolean, close: () => void }> {
  const front = createSocket('udp4')
  const backs = new Map<string, Socket>()
  const relay = {
    port: 0,
    drop: false,
    close: () => {
      front.close()
      for (const back of backs.values()) back.close()
    },
  }
  front.on('message', (msg, from) => {
    const key = `${from.address}:${from.port}`
    let back = backs.get(key)
    if (back === undefined) {
      const socket = createSocket('udp4')
      socket.on('message', (reply) => { if (!relay.drop) front.send(reply, from.port, from.address) })
      socket.bind(0, '127.0.0.1')
      backs.set(key, socket)
      back = socket
    }
    if (!relay.drop) back.send(msg, target, '127.0.0.1')
  })
  await new Promise<void>((resolve) => front.bind(0, '127.0.0.1', resolve))
  relay.port = front.address().port
  return relay
}

function get (path: string, method = 'GET'): RequestHead {
  return { method, authority: 'svc.test', path, scheme: 'https', headers: {} }
}

async function collect (stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer))
  return Buffer.concat(chunks)
}

async function until (check: () => boolean, timeoutMs = 3000): Promise<void> {
  for (let waited = 0; waited < timeoutMs; waited += 10) {
    if (check()) return
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  assert.fail(`condition not met within ${timeoutMs} ms: ${check.toString()}`)
}
