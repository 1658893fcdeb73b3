// TCP tunnel and peer-session families after known events.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { createMetrics } from '../../src/metrics/index.js'
import { scrape, tunnelEvent, value } from './events.js'

test('tunnels: opens, closes by error code, bytes, open gauge, durations', async () => {
  const m = createMetrics({ defaultMetrics: false })
  for (let i = 0; i < 5; i++) m.telemetry.tunnel(tunnelEvent({ phase: 'open' }))
  for (let i = 0; i < 3; i++) m.telemetry.tunnel(tunnelEvent({ phase: 'close', bytesIn: 1000, bytesOut: 4000, durationSeconds: 2 }))
  m.telemetry.tunnel(tunnelEvent({ phase: 'close', errorCode: 'E_UPSTREAM_RESET', bytesIn: 10, bytesOut: 0, durationSeconds: 0.005 }))
  const s = await scrape(m.registry)
  const labels = { direction: 'outbound', authority: 'db.demo:5432' }
  assert.equal(value(s, 'meshgate_tcp_open_total', { ...labels, transport: 'h2' }), 5)
  assert.equal(value(s, 'meshgate_tcp_close_total', { ...labels, error_code: '' }), 3)
  assert.equal(value(s, 'meshgate_tcp_close_total', { ...labels, error_code: 'E_UPSTREAM_RESET' }), 1)
  assert.equal(value(s, 'meshgate_tcp_open_connections', labels), 1)
  assert.equal(value(s, 'meshgate_tcp_read_bytes_total', labels), 3010)
  assert.equal(value(s, 'meshgate_tcp_write_bytes_total', labels), 12000)
  assert.equal(value(s, 'meshgate_tcp_connection_duration_seconds_bucket', { ...labels, le: '0.01' }), 1)
  assert.equal(value(s, 'meshgate_tcp_connection_duration_seconds_bucket', { ...labels, le: '1' }), 1)
  assert.equal(value(s, 'meshgate_tcp_connection_duration_seconds_bucket', { ...labels, le: '10' }), 4)
  assert.equal(value(s, 'meshgate_tcp_connection_duration_seconds_count', labels), 4)
})

test('the open gauge never goes below zero', async () => {
  const m = createMetrics({ defaultMetrics: false })
  m.telemetry.tunnel(tunnelEvent({ phase: 'close', errorCode: 'E_TARGET_NOT_ALLOWED' }))
  const s = await scrape(m.registry)
  assert.equal(value(s, 'meshgate_tcp_open_connections', { authority: 'db.demo:5432' }), 0)
})

test('transport observer: sessions, streams, RTT, handshakes', async () => {
  const m = createMetrics({ defaultMetrics: false })
  const o = m.transportObserver
  o.handshake?.('h2', 'client', 'ok')
  o.handshake?.('h2', 'client', 'ok')
  o.handshake?.('h2', 'server', 'E_PEER_TLS')
  o.sessionOpened?.('h2', 'client')
  o.sessionOpened?.('h2', 'client')
  o.sessionClosed?.('h2', 'client')
  o.sessionOpened?.('h3', 'server')
  for (let i = 0; i < 10; i++) o.streamOpened?.('h2', 'client')
  for (let i = 0; i < 4; i++) o.streamClosed?.('h2', 'client')
  o.rtt?.('h2', 0.0003)
  o.rtt?.('h2', 0.002)
  const s = await scrape(m.registry)
  assert.equal(value(s, 'meshgate_transport_handshakes_total', { transport: 'h2', side: 'client', result: 'ok' }), 2)
  assert.equal(value(s, 'meshgate_transport_handshakes_total', { transport: 'h2', side: 'server', result: 'E_PEER_TLS' }), 1)
  assert.equal(value(s, 'meshgate_transport_sessions_open', { transport: 'h2', side: 'client' }), 1)
  assert.equal(value(s, 'meshgate_transport_sessions_total', { transport: 'h2', side: 'client' }), 2)
  assert.equal(value(s, 'meshgate_transport_sessions_open', { transport: 'h3', side: 'server' }), 1)
  assert.equal(value(s, 'meshgate_transport_streams_open', { transport: 'h2', side: 'client' }), 6)
  assert.equal(value(s, 'meshgate_transport_streams_total', { transport: 'h2', side: 'client' }), 10)
  assert.equal(value(s, 'meshgate_transport_session_rtt_seconds_bucket', { transport: 'h2', le: '0.0005' }), 1)
  assert.equal(value(s, 'meshgate_transport_session_rtt_seconds_bucket', { transport: 'h2', le: '0.0025' }), 2)
  assert.equal(value(s, 'meshgate_transport_session_rtt_seconds_count', { transport: 'h2' }), 2)
})
