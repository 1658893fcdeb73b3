// Outbound warm-up (src/outbound/warm-up.ts) with fake dials: one dial per distinct peer, the bound
// ends the wait and aborts the dials still running, a failed warm-up dial leaves no backoff for
// the first request, and a pool destroyed mid-dial aborts the dial instead of leaving it to time out.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Endpoint } from '../../src/discovery/types.js'
import { SessionPool } from '../../src/outbound/session-pool.js'
import { distinctPeers, warmUp } from '../../src/outbound/warm-up.js'
import { MeshError } from '../../core/errors.js'
import type { ConnectOptions, PeerSession, Transport } from '../../transports/contract.js'

function endpoint (port: number, target: string, more: Partial<Endpoint> = {}): Endpoint {
  return { key: `127.0.0.1:${port}|${target}`, peer: { host: '127.0.0.1', port }, identity: 'spiffe://test/sa/server', target, weight: 1, transport: 'h2', ...more }
}

const session = {} as unknown as PeerSession

describe('outbound warm-up', () => {
  it('dials each transport x peer x identity once and skips endpoints behind a gateway', () => {
    const peers = distinctPeers([
      endpoint(1, 'a:1'), endpoint(1, 'b:1'), endpoint(1, 'a:1', { transport: 'h3' }), endpoint(2, 'a:1'),
      endpoint(3, 'a:1', { via: { cluster: 'west', service: 'web', mode: 'e2e', identities: [] } }),
    ])
    assert.deepEqual(peers.map((e) => `${e.transport}:${e.peer.port}`), ['h2:1', 'h3:1', 'h2:2'])
  })

  it('with no peers is done at once', async () => {
    const result = await warmUp(async () => session, [], 60_000)
    assert.deepEqual({ ...result, elapsedMs: 0 }, { peers: 0, warmed: 0, failed: 0, pending: 0, elapsedMs: 0 })
  })

  it('counts warmed and failed peers, and stops waiting at the bound for a dial that hangs', async () => {
    // The bound's timer is unref'd (it keeps no process alive); here nothing else would keep this one.
    const keepAlive = setInterval(() => {}, 1_000)
    const started = Date.now()
    let hanging: AbortSignal | undefined
    const result = await warmUp(async (e, signal) => {
      if (e.peer.port === 2) throw new MeshError('E_PEER_UNREACHABLE', 'refused')
      if (e.peer.port === 3) {
        hanging = signal
        return await new Promise<PeerSession>(() => {})
      }
      return session
    }, [endpoint(1, 'a:1'), endpoint(2, 'a:1'), endpoint(3, 'a:1')], 100).finally(() => { clearInterval(keepAlive) })
    assert.ok(Date.now() - started < 1_000, 'returned at the 100 ms bound')
    assert.deepEqual({ warmed: result.warmed, failed: result.failed, pending: result.pending, firstError: result.firstError }, { warmed: 1, failed: 1, pending: 1, firstError: 'E_PEER_UNREACHABLE' })
    assert.equal(hanging?.aborted, true, 'the dial still running at the bound was aborted')
  })

  it('a failed warm-up dial leaves no backoff: the first request dials afresh', async () => {
    let dials = 0
    const flaky: Transport = {
      name: 'h2',
      connect: async () => {
        dials++
        if (dials === 1) throw new MeshError('E_PEER_UNREACHABLE', 'not up yet')
        return { streamCapacity: 10, onClose: () => {} } as unknown as PeerSession
      },
      listen: async () => { throw new Error('not used') },
    }
    const pool = new SessionPool({ tls: { ca: '', cert: '', key: '' }, connectTimeoutMs: 1_000, backoffMinMs: 60_000 })
    const address = { host: '127.0.0.1', port: 1 }
    await assert.rejects(pool.warm(flaky, address, 'spiffe://test/sa/server', new AbortController().signal), (err: unknown) => err instanceof MeshError && err.code === 'E_PEER_UNREACHABLE')
    const got = await pool.get(flaky, address, 'spiffe://test/sa/server')
    assert.equal(got.streamCapacity, 10)
    assert.equal(dials, 2, 'a request after the failed warm-up dialled again (no 60 s backoff)')
  })

  it('a pool destroyed while dialling aborts the dial (nothing waits for the connect timeout)', async () => {
    const signals: AbortSignal[] = []
    const hanging: Transport = {
      name: 'h2',
      connect: async (options: ConnectOptions) => await new Promise<PeerSession>((_resolve, reject) => {
        assert.ok(options.signal !== undefined)
        signals.push(options.signal)
        options.signal.addEventListener('abort', () => { reject(options.signal?.reason) }, { once: true })
      }),
      listen: async () => { throw new Error('not used') },
    }
    const pool = new SessionPool({ tls: { ca: '', cert: '', key: '' }, connectTimeoutMs: 60_000 })
    const dial = pool.get(hanging, { host: '127.0.0.1', port: 1 }, 'spiffe://test/sa/server')
    await new Promise((resolve) => setImmediate(resolve))
    pool.destroy()
    pool.destroy()
    await assert.rejects(dial, (err: unknown) => err instanceof MeshError && err.code === 'E_DRAINING')
    assert.equal(signals.length, 1)
  })
})
