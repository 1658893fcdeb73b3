// The tap: filters deliver what they ask for and nothing else; the rate limit drops and reports.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { TapHub, type TapFilter, type TapRecord } from '../../src/admin/index.js'
import { requestEvent, tunnelEvent } from '../metrics/events.js'
import { startHarness, type Harness } from './harness.js'
import { NdjsonReader } from './ndjson.js'

const A = 'spiffe://test.local/ns/default/sa/a'
const B = 'spiffe://test.local/ns/default/sa/b'

/** A mixed traffic sample: every event has a unique requestId / authority+phase to tell them apart. */
function emitMix (tap: TapHub): void {
  tap.request(requestEvent({ requestId: 'web-get-api', authority: 'web.demo', method: 'GET', path: '/api/users', identity: A }))
  tap.request(requestEvent({ requestId: 'web-post-api', authority: 'web.demo', method: 'POST', path: '/api/orders', identity: A }))
  tap.request(requestEvent({ requestId: 'web-get-static', authority: 'web.demo', method: 'GET', path: '/static/x.css', identity: B }))
  tap.request(requestEvent({ requestId: 'api-get-api', authority: 'api.demo', method: 'get', path: '/api/users', identity: B, peerIdentity: A }))
  tap.tunnel(tunnelEvent({ authority: 'db.demo:5432', identity: A, peerIdentity: B, phase: 'open' }))
  tap.tunnel(tunnelEvent({ authority: 'web.demo', identity: B, peerIdentity: '', phase: 'close', bytesIn: 5 }))
}

function idOf (r: TapRecord | Record<string, unknown>): string {
  const x = r as Record<string, unknown>
  return x.type === 'request' ? String(x.requestId) : `tunnel:${String(x.authority)}:${String(x.phase)}`
}

function collect (hub: TapHub, filter: TapFilter): TapRecord[] {
  const got: TapRecord[] = []
  hub.subscribe(filter, { deliver: (r) => { got.push(r); return true }, dropped: () => {}, end: () => {} })
  return got
}

test('each filter delivers exactly the matching events', () => {
  const cases: Array<[TapFilter, string[]]> = [
    [{}, ['web-get-api', 'web-post-api', 'web-get-static', 'api-get-api', 'tunnel:db.demo:5432:open', 'tunnel:web.demo:close']],
    [{ authority: 'web.demo' }, ['web-get-api', 'web-post-api', 'web-get-static', 'tunnel:web.demo:close']],
    [{ pathPrefix: '/api/' }, ['web-get-api', 'web-post-api', 'api-get-api']],
    [{ method: 'get' }, ['web-get-api', 'web-get-static', 'api-get-api']],
    [{ method: 'CONNECT' }, ['tunnel:db.demo:5432:open', 'tunnel:web.demo:close']],
    [{ identity: A }, ['web-get-api', 'web-post-api', 'api-get-api', 'tunnel:db.demo:5432:open']],
    [{ authority: 'web.demo', method: 'GET', pathPrefix: '/api' }, ['web-get-api']],
    [{ authority: 'nobody.demo' }, []],
  ]
  const hub = new TapHub()
  const results = cases.map(([filter]) => collect(hub, filter))
  emitMix(hub)
  hub.requestEnd({ direction: 'outbound', authority: 'web.demo', status: 200, requestBytes: 0, responseBytes: 0, totalSeconds: 0 })
  cases.forEach(([filter, expected], i) => {
    assert.deepEqual(results[i].map(idOf), expected, JSON.stringify(filter))
  })
  const first = results[0][0]
  assert.equal(first.type, 'request')
  assert.match(first.time, /^\d{4}-\d\d-\d\dT/)
  hub.close()
  assert.equal(hub.subscriberCount, 0)
})

test('the token bucket limits each subscriber and counts what it dropped', async () => {
  // The buckets' clock moves only when the test says so: a stall of the loop below on a busy
  // machine must not refill tokens (at 10/s, 100 ms would let one more through).
  let clock = 0
  const hub = new TapHub({ ratePerSecond: 10, dropReportMs: 20, now: () => clock })
  let delivered = 0
  const drops: number[] = []
  const sub = hub.subscribe({}, { deliver: () => { delivered++; return true }, dropped: (n) => { drops.push(n) }, end: () => {} })
  const fast = hub.subscribe({}, { deliver: () => true, dropped: () => {}, end: () => {} }, { ratePerSecond: 1000 })
  for (let i = 0; i < 500; i++) hub.request(requestEvent())
  assert.equal(delivered, 10)
  assert.equal(sub?.droppedTotal, 490)
  assert.equal(fast?.delivered, 500)
  await sleep(60)
  assert.deepEqual(drops, [490])
  clock += 200
  hub.request(requestEvent())
  hub.request(requestEvent())
  hub.request(requestEvent())
  assert.equal(delivered, 12, 'tokens refill with time: 200 ms at 10/s is two')
  hub.close()
})

test('a sink that cannot keep up loses events instead of queueing them', () => {
  const hub = new TapHub()
  let accept = false
  const sub = hub.subscribe({}, { deliver: () => accept, dropped: () => {}, end: () => {} })
  hub.request(requestEvent())
  accept = true
  hub.request(requestEvent())
  assert.equal(sub?.delivered, 1)
  assert.equal(sub?.droppedTotal, 1)
  hub.close()
})

let h: Harness
// A frozen clock for the rate limit: 300 events in a loop must meet exactly 100 tokens, however
// long the loop takes on a loaded machine.
before(async () => { h = await startHarness({ tap: { ratePerSecond: 100, dropReportMs: 50, maxSubscribers: 3, now: () => 0 } }) })
after(async () => { await h.admin.close() })

async function openTap (query: string): Promise<NdjsonReader> {
  const res = await fetch(`${h.admin.url}/tap?${query}`)
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /^application\/x-ndjson/)
  const reader = new NdjsonReader(res)
  await reader.until((l) => l.length >= 1)
  return reader
}

test('GET /tap streams the matching events as NDJSON and ends at the limit', async () => {
  const reader = await openTap('authority=web.demo&pathPrefix=/api&limit=2')
  assert.deepEqual(reader.lines[0], { type: 'tap', filter: { authority: 'web.demo', pathPrefix: '/api' }, limit: 2, ratePerSecond: 100 })
  emitMix(h.tap)
  emitMix(h.tap)
  await reader.until(() => false)
  assert.ok(reader.done, 'the stream ended at the limit')
  assert.deepEqual(reader.lines.slice(1).map(idOf), ['web-get-api', 'web-post-api'])
  assert.equal(h.tap.subscriberCount, 0)
})

test('GET /tap reports dropped events past its rate', async () => {
  const reader = await openTap('method=GET')
  for (let i = 0; i < 300; i++) h.tap.request(requestEvent({ requestId: `r${i}` }))
  const lines = await reader.until((l) => l.some((x) => x.type === 'dropped'))
  const events = lines.filter((l) => l.type === 'request')
  const dropped = lines.filter((l) => l.type === 'dropped').reduce((n, l) => n + Number(l.count), 0)
  assert.equal(events.length, 100)
  assert.equal(dropped, 200)
  await reader.cancel()
  for (let i = 0; i < 50 && h.tap.subscriberCount > 0; i++) await sleep(10)
  assert.equal(h.tap.subscriberCount, 0, 'a closed reader unsubscribes')
})

test('GET /tap refuses past maxSubscribers and rejects a bad limit', async () => {
  const readers = [await openTap(''), await openTap(''), await openTap('')]
  let res = await fetch(`${h.admin.url}/tap`)
  assert.equal(res.status, 503)
  await res.text()
  res = await fetch(`${h.admin.url}/tap?limit=0`)
  assert.equal(res.status, 400)
  await res.text()
  for (const r of readers) await r.cancel()
})
