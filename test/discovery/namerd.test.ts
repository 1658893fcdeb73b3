// The namerd source against a small server speaking namerd's HTTP resolve API: the first answer,
// watch updates, neg, a failed answer keeping the last good set, a dropped watch coming back.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { JsonObjectSplitter, NamerdSource, readNamerdAnswer } from '../../src/discovery/namerd.js'
import type { DiscoveryUpdate } from '../../src/discovery/types.js'
import { FakeNamerd } from './fake-namerd.js'

let namerd: FakeNamerd
let url: string
before(async () => { namerd = new FakeNamerd(); url = await namerd.listen() })
after(async () => { await namerd.close() })

const ID = 'spiffe://mesh.local/ns/default/sa/web'

/** Collects updates; `next(check)` resolves with the first (new) one that passes, within 5 s. */
function collector (): { onUpdate: (u: DiscoveryUpdate) => void, next: (check: (u: DiscoveryUpdate) => boolean) => Promise<DiscoveryUpdate> } {
  const seen: DiscoveryUpdate[] = []
  let read = 0
  return {
    onUpdate: (u) => { seen.push(u) },
    next: async (check) => {
      const deadline = Date.now() + 5000
      for (;;) {
        while (read < seen.length) { const u = seen[read++]; if (check(u)) return u }
        if (Date.now() > deadline) throw new Error(`no matching update; saw ${JSON.stringify(seen)}`)
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
    },
  }
}

const targets = (u: DiscoveryUpdate): string[] => u.kind === 'reset' ? u.endpoints.map((e) => e.target).sort() : []

test('resolve and watch by namespace and path: updates, neg, failed, a dropped watch', async () => {
  namerd.set('prod', '/svc/web', { type: 'bound', addrs: [{ ip: '10.0.0.1', port: 8080, meta: { version: 'v1' } }] })
  const source = new NamerdSource({ url, namespace: 'prod', retryMs: 50, services: { web: { path: '/svc/web', identity: ID, peerPort: 4143 } } })
  const c = collector()
  const stop = source.watch('web', c.onUpdate)
  try {
    const first = await c.next((u) => u.kind === 'reset')
    assert.deepEqual(targets(first), ['10.0.0.1:8080'])
    assert.equal(first.kind === 'reset' ? first.endpoints[0].peer.port : 0, 4143)
    assert.deepEqual(first.kind === 'reset' ? first.endpoints[0].labels : {}, { version: 'v1' })
    assert.deepEqual(namerd.requests, ['prod /svc/web watch'])

    namerd.set('prod', '/svc/web', { type: 'bound', addrs: [{ ip: '10.0.0.1', port: 8080 }, { ip: '10.0.0.2', port: 8080, meta: { endpoint_addr_weight: '3' } }] })
    const second = await c.next((u) => targets(u).length === 2)
    assert.equal(second.kind === 'reset' ? second.endpoints.find((e) => e.target === '10.0.0.2:8080')?.weight : 0, 3)

    namerd.set('prod', '/svc/web', { type: 'failed' })
    namerd.set('prod', '/svc/web', { type: 'neg' })
    await c.next((u) => u.kind === 'doesNotExist')

    namerd.dropWatches()
    namerd.set('prod', '/svc/web', { type: 'bound', addrs: [{ ip: '10.0.0.3', port: 9090 }] })
    const back = await c.next((u) => u.kind === 'reset')
    assert.deepEqual(targets(back), ['10.0.0.3:9090'], 'the watch came back and read the current answer')
    assert.equal(namerd.requests.filter((r) => r === 'prod /svc/web watch').length, 2)
  } finally {
    stop()
    await source.close()
  }
})

test('answers split across chunks or run together are each read; bad answers are refused', () => {
  const splitter = new JsonObjectSplitter()
  assert.deepEqual(splitter.push('{"type":"neg"}{"type":"bou'), ['{"type":"neg"}'])
  assert.deepEqual(splitter.push('nd","addrs":[],"meta":{"x":"}{"}}\n'), ['{"type":"bound","addrs":[],"meta":{"x":"}{"}}'])
  const svc = { path: '/svc/web', identity: ID }
  assert.deepEqual(readNamerdAnswer('{"type":"bound","addrs":[{"ip":"::1","port":80}]}', svc), {
    ok: true,
    endpoints: [{ key: '::1:80|[::1]:80', peer: { host: '::1', port: 80 }, identity: ID, target: '[::1]:80', weight: 1, transport: 'auto' }],
  })
  assert.equal(readNamerdAnswer('{"type":"bound","addrs":[{"ip":"1.2.3.4"}]}', svc).ok, false)
  assert.equal(readNamerdAnswer('nope', svc).ok, false)
})
