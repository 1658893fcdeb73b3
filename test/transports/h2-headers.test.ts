// h2 header translation: hop-by-hop stripping (RFC 9113 §8.2.2), CONNECT shapes, header list size.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { headerListSize, requestHeaders, stripHopByHop, toRequestHead } from '../../transports/h2/headers.js'

describe('h2 headers', () => {
  it('strips hop-by-hop fields, those the connection header names, and te other than trailers', () => {
    const headers = {
      Connection: 'close, X-Private',
      'x-private': '1',
      'keep-alive': 'timeout=5',
      'proxy-connection': 'keep-alive',
      'transfer-encoding': 'chunked',
      upgrade: 'websocket',
      te: 'gzip',
      'X-App': 'yes',
      'set-cookie': ['a=1', 'b=2'],
    }
    assert.deepEqual(stripHopByHop(headers), { 'x-app': 'yes', 'set-cookie': ['a=1', 'b=2'] })
    assert.deepEqual(stripHopByHop({ te: 'trailers' }), { te: 'trailers' })
    assert.deepEqual(stripHopByHop({ te: 'trailers, deflate' }), {})
    assert.deepEqual(stripHopByHop({ ':path': '/x', host: 'a' }), { host: 'a' })
  })

  it('builds plain CONNECT, extended CONNECT and ordinary request heads', () => {
    assert.deepEqual(requestHeaders({ method: 'CONNECT', authority: 'db:5432', path: '', scheme: 'https', headers: {} }),
      { ':method': 'CONNECT', ':authority': 'db:5432' })
    assert.deepEqual(requestHeaders({ method: 'CONNECT', authority: 'ws:80', path: '/chat', scheme: 'http', protocol: 'websocket', headers: {} }),
      { ':method': 'CONNECT', ':authority': 'ws:80', ':protocol': 'websocket', ':scheme': 'http', ':path': '/chat' })
    assert.deepEqual(requestHeaders({ method: 'get', authority: 'svc', path: '', scheme: 'https', headers: { accept: '*/*' } }),
      { accept: '*/*', ':method': 'GET', ':authority': 'svc', ':scheme': 'https', ':path': '/' })
  })

  it('reads a received head without pseudo-headers in the map', () => {
    const head = toRequestHead({ ':method': 'CONNECT', ':authority': 'ws:80', ':protocol': 'websocket', ':scheme': 'http', ':path': '/c', 'x-a': 'b' })
    assert.deepEqual(head, { method: 'CONNECT', authority: 'ws:80', path: '/c', scheme: 'http', protocol: 'websocket', headers: { 'x-a': 'b' } })
  })

  it('counts header list size as name + value + 32 per field (RFC 9113 §6.5.2)', () => {
    assert.equal(headerListSize({ ':method': 'GET', a: ['xy', 'z'] }), (7 + 3 + 32) + (1 + 2 + 32) + (1 + 1 + 32))
  })
})
