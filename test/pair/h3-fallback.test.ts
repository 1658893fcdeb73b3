// `auto` endpoints: h3 while the peer's UDP port answers, h2 with zero failed requests when it does not.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { startPair, type Pair } from '../helpers/pair.js'
import { get } from '../helpers/clients.js'
import { h3Skip } from '../helpers/transports.js'

const SKIP = h3Skip()

/** Open sessions of the outbound side by transport, e.g. `{ h3: 1 }`. */
function sessionsByTransport (pair: Pair): Record<string, number> {
  const out: Record<string, number> = {}
  for (const s of pair.client.outbound?.pool.sessions() ?? []) if (!s.closed) out[s.transport] = (out[s.transport] ?? 0) + 1
  return out
}

/** Resolves once `check()` holds, polling every 5 ms (the test's own timeout bounds it). */
async function waitFor (check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 5))
}

async function fallbacks (pair: Pair): Promise<string[]> {
  const text = await pair.client.metrics.registry.metrics()
  return text.split('\n').filter((l) => l.startsWith('meshgate_transport_fallbacks_total{'))
}

describe('auto endpoints fall back from h3 to h2', { skip: SKIP }, () => {
  describe('while the inbound h3 listener closes and h2 stays', () => {
    let pair: Pair
    before(async () => { pair = await startPair({ transport: 'auto' }) })
    after(async () => { await pair?.close() })

    it('uses h3 first, then carries every request over h2 once h3 is gone', async () => {
      const first = await get(pair.appPort, '/first')
      assert.equal(first.status, 200)
      assert.deepEqual(sessionsByTransport(pair), { h3: 1 }, 'h3 wins the race while its port answers')

      // Requests keep flowing (four at a time) while the server turns h3 off; none may fail.
      const traffic = { stop: false, done: 0 }
      const failures: string[] = []
      const worker = async (w: number): Promise<void> => {
        for (let i = 0; !traffic.stop; i++) {
          const reply = await get(pair.appPort, `/w${w}/${i}`).catch((err: Error) => ({ status: 0, error: err.message, body: '' }))
          if (reply.status !== 200) failures.push(`${reply.status} ${String(reply.error)} ${reply.body.trim()}`)
          traffic.done++
        }
      }
      const workers = [0, 1, 2, 3].map(worker)
      await waitFor(() => traffic.done >= 20)
      await pair.server.inbound?.closeTransport('h3')
      const closedAt = traffic.done
      await waitFor(() => traffic.done >= closedAt + 40)
      traffic.stop = true
      await Promise.all(workers)
      assert.deepEqual(failures, [], 'no request failed during the fallback')
      assert.equal(sessionsByTransport(pair).h3, undefined, 'no h3 session is left')
      assert.ok((sessionsByTransport(pair).h2 ?? 0) >= 1)
      assert.deepEqual(await fallbacks(pair), ['meshgate_transport_fallbacks_total{from="h3",to="h2",reason="E_PEER_UNREACHABLE"} 1'])
    })
  })

  describe('when nothing listens on the peer\'s UDP port', () => {
    let pair: Pair
    before(async () => { pair = await startPair({ transport: 'auto', inboundH3: false }) })
    after(async () => { await pair?.close() })

    it('serves the first request and every later one over h2, and counts one fallback', async () => {
      const replies = await Promise.all(Array.from({ length: 10 }, async (_, i) => await get(pair.appPort, `/p${i}`)))
      assert.deepEqual(replies.map((r) => r.status), Array(10).fill(200))
      for (let i = 0; i < 10; i++) assert.equal((await get(pair.appPort, `/s${i}`)).status, 200)
      assert.deepEqual(sessionsByTransport(pair), { h2: 1 })
      assert.deepEqual(await fallbacks(pair), ['meshgate_transport_fallbacks_total{from="h3",to="h2",reason="E_PEER_UNREACHABLE"} 1'])
    })
  })

  describe('an endpoint that asks for h3 outright', () => {
    let pair: Pair
    before(async () => { pair = await startPair({ transport: 'h3', inboundH3: false }) })
    after(async () => { await pair?.close() })

    it('does not fall back: E_PEER_UNREACHABLE', async () => {
      const reply = await get(pair.appPort, '/')
      assert.equal(reply.status, 502)
      assert.equal(reply.error, 'E_PEER_UNREACHABLE')
      assert.deepEqual(await fallbacks(pair), [])
    })
  })
})
