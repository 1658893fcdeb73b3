// Demo traffic: the embedded default's trickle of requests shows up in the metrics, and stops on drain.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { startPair } from './helpers/pair.js'

function total (text: string, name: string, direction: string): number {
  return text.split('\n')
    .filter((l) => l.startsWith(`${name}{`) && l.includes(`direction="${direction}"`) && l.includes('authority="web.test"'))
    .reduce((sum, l) => sum + Number(l.slice(l.lastIndexOf(' ') + 1)), 0)
}

describe('demo traffic', () => {
  it('sends HTTP requests through the outbound listener until the proxy drains', async () => {
    const pair = await startPair({ outboundExtra: 'demo: { host: 127.0.0.1, httpPort: 0, tcpPort: 0, trafficPerSecond: 40, trafficAuthority: web.test }' })
    try {
      let seen = 0
      for (let i = 0; i < 50 && seen < 10; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100))
        seen = total(await pair.client.metrics.registry.metrics(), 'meshgate_requests_total', 'outbound')
      }
      assert.ok(seen >= 10, `demo requests reached the outbound role (${seen})`)
      assert.ok(total(await pair.server.metrics.registry.metrics(), 'meshgate_requests_total', 'inbound') >= 10, 'and the peer')
      await pair.client.drain(2000)
      const after = total(await pair.client.metrics.registry.metrics(), 'meshgate_requests_total', 'outbound')
      await new Promise((resolve) => setTimeout(resolve, 300))
      assert.equal(total(await pair.client.metrics.registry.metrics(), 'meshgate_requests_total', 'outbound'), after, 'no demo traffic after drain')
    } finally {
      await pair.close()
    }
  })
})
