// The dns source against a real dnsmasq on loopback: A, AAAA, SRV, changes, empty answers, failures.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { DnsSource, fillTemplate, refreshDelayMs } from '../../src/discovery/dns.js'
import type { DiscoveryUpdate, Endpoint } from '../../src/discovery/types.js'
import { captureLog, until } from './log-capture.js'
import { DNSMASQ, startDnsmasq, type Dnsmasq } from './dnsmasq.js'

const MAX_REFRESH_MS = 300
const skip = existsSync(DNSMASQ) ? false : `${DNSMASQ} not installed (apt-get install dnsmasq-base)`
const WEB = ['127.0.0.11 web.mesh.test', '127.0.0.12 web.mesh.test']
const OTHERS = ['::1 web6.mesh.test', '127.0.0.21 a.mesh.test', '127.0.0.22 b.mesh.test', '127.0.0.23 c.mesh.test']

let dns: Dnsmasq
let source: DnsSource
const log = captureLog()
const seen: Record<string, DiscoveryUpdate[]> = { web: [], web6: [], api: [] }
const last = (service: string): Endpoint[] => {
  const u = seen[service]?.at(-1)
  return u?.kind === 'reset' ? u.endpoints : []
}
const peers = (service: string): string[] => last(service).map((e) => `${e.peer.host}:${e.peer.port}`).sort()

before(async () => {
  if (skip !== false) return
  dns = await startDnsmasq([...WEB, ...OTHERS], [
    'srv-host=_mg._tcp.api.mesh.test,a.mesh.test,4143,0,10',
    'srv-host=_mg._tcp.api.mesh.test,b.mesh.test,4144,0,30',
    'srv-host=_mg._tcp.api.mesh.test,c.mesh.test,4145,1,10', // lower priority: not used
  ])
  source = new DnsSource({
    servers: [`127.0.0.1:${dns.port}`],
    minRefreshMs: 100,
    maxRefreshMs: MAX_REFRESH_MS,
    retryMs: 100,
    timeoutMs: 200,
    tries: 1,
    services: {
      web: { name: 'web.mesh.test', type: 'A', port: 4143, identity: 'spiffe://test.local/ns/default/sa/web', target: '127.0.0.1:8080' },
      web6: { name: 'web6.mesh.test', type: 'A+AAAA', port: 4143, identity: 'spiffe://test.local/ns/default/sa/web6', target: '{address}:8080' },
      api: { name: '_mg._tcp.api.mesh.test', type: 'SRV', identity: 'spiffe://test.local/ns/default/sa/api', target: '{address}:9090', transport: 'h2', zone: 'z1' },
    },
  }, log.logger)
  for (const service of Object.keys(seen)) source.watch(service, (u) => seen[service]?.push(u))
})

after(async () => {
  await source?.close()
  await dns?.stop()
})

test('unit: TTL → refresh delay within bounds; target templates', () => {
  assert.equal(refreshDelayMs(0, 1000, 60_000), 1000)
  assert.equal(refreshDelayMs(30, 1000, 60_000), 30_000)
  assert.equal(refreshDelayMs(86_400, 1000, 60_000), 60_000)
  assert.equal(fillTemplate('{address}:{port}/{host}', { address: '::1', port: 5, host: 'h' }), '[::1]:5/h')
})

test('A records: one endpoint per address, peer port from config', { skip }, async () => {
  await until(() => peers('web').length === 2, 3000, 'web resolved')
  assert.deepEqual(peers('web'), ['127.0.0.11:4143', '127.0.0.12:4143'])
  const e = last('web')[0]
  assert.equal(e?.identity, 'spiffe://test.local/ns/default/sa/web')
  assert.equal(e?.target, '127.0.0.1:8080')
  assert.equal(e?.key, `${e?.peer.host}:4143|127.0.0.1:8080`)
})

test('AAAA: IPv6 peers, bracketed in the target', { skip }, async () => {
  await until(() => peers('web6').length === 1, 3000, 'web6 resolved')
  assert.deepEqual(last('web6').map((e) => [e.peer.host, e.target]), [['::1', '[::1]:8080']])
})

test('SRV: lowest priority only, ports and weights from the records, targets resolved', { skip }, async () => {
  await until(() => peers('api').length === 2, 3000, 'api resolved')
  assert.deepEqual(last('api').map((e) => [e.peer.host, e.peer.port, e.weight, e.target, e.zone, e.transport]).sort(), [
    ['127.0.0.21', 4143, 10, '127.0.0.21:9090', 'z1', 'h2'],
    ['127.0.0.22', 4144, 30, '127.0.0.22:9090', 'z1', 'h2'],
  ])
})

test('changed records are followed within one refresh', { skip }, async () => {
  await until(() => peers('web').length === 2 && peers('api').length === 2, 3000, 'initial sets')
  await dns.setHosts(['127.0.0.11 web.mesh.test', '127.0.0.13 web.mesh.test', ...OTHERS.filter((l) => !l.includes(' a.')), '127.0.0.31 a.mesh.test'])
  const changed = Date.now()
  await until(() => peers('web').includes('127.0.0.13:4143') && peers('api').includes('127.0.0.31:4143'), MAX_REFRESH_MS + 700, 'new records within one refresh')
  assert.deepEqual(peers('web'), ['127.0.0.11:4143', '127.0.0.13:4143'])
  assert.ok(Date.now() - changed <= MAX_REFRESH_MS + 700)
})

test('an empty answer (name gone: NXDOMAIN) keeps the last set and logs E_DISCOVERY_DNS_EMPTY', { skip }, async () => {
  const before = seen.web?.length ?? 0
  const kept = peers('web')
  const errors = log.withCode('E_DISCOVERY_DNS_EMPTY').length
  await dns.setHosts(OTHERS)
  await until(() => log.withCode('E_DISCOVERY_DNS_EMPTY').length > errors, 2000, 'empty answer logged')
  await new Promise((resolve) => setTimeout(resolve, MAX_REFRESH_MS))
  assert.equal(seen.web?.length, before, 'no update for an empty answer')
  assert.deepEqual(peers('web'), kept)
  const line = log.withCode('E_DISCOVERY_DNS_EMPTY').at(-1)
  assert.equal(line?.service, 'web')
  assert.equal(line?.level, 50) // error
  await dns.setHosts(['127.0.0.14 web.mesh.test', ...OTHERS])
  await until(() => peers('web').join() === '127.0.0.14:4143', 2000, 'recovery after the empty answer')
})

test('a resolver that stops answering: last set kept, E_DISCOVERY_DNS_FAILED logged', { skip }, async () => {
  const kept = peers('web')
  const before = seen.web?.length ?? 0
  await dns.kill()
  await until(() => log.withCode('E_DISCOVERY_DNS_FAILED').length > 0, 3000, 'failure logged')
  assert.equal(seen.web?.length, before)
  assert.deepEqual(peers('web'), kept)
})
