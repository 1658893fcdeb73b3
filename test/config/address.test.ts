// Address and identity syntax accepted in configs: host:port, authorities, SPIFFE IDs, allow entries.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { isAllowEntry, isAuthority, isHost, isSpiffeId, parseHostPort } from '../../src/config/address.js'

test('host:port', () => {
  assert.deepEqual(parseHostPort('127.0.0.1:4143'), { host: '127.0.0.1', port: 4143 })
  assert.deepEqual(parseHostPort('demo.svc.cluster.local:80'), { host: 'demo.svc.cluster.local', port: 80 })
  assert.deepEqual(parseHostPort('[::1]:8080'), { host: '::1', port: 8080 })
  assert.deepEqual(parseHostPort('localhost:0', true), { host: 'localhost', port: 0 })
  for (const bad of ['127.0.0.1', ':80', 'host:', 'host:65536', 'host:0', '::1:80', '[nope]:80', 'a b:80', 'host:80:90', 'host:-1']) {
    assert.equal(parseHostPort(bad), undefined, bad)
  }
})

test('hosts and authorities', () => {
  for (const ok of ['127.0.0.1', '0.0.0.0', '::', 'localhost', 'demo.local', 'a-b.c']) assert.ok(isHost(ok), ok)
  for (const bad of ['', '-a', 'a_b', 'bad host', 'a..b']) assert.ok(!isHost(bad), bad)
  assert.ok(isAuthority('demo.local'))
  assert.ok(isAuthority('demo.local:4140'))
  assert.ok(!isAuthority('http://demo.local'))
})

test('SPIFFE IDs and allow entries', () => {
  assert.ok(isSpiffeId('spiffe://mesh.local/ns/default/sa/demo'))
  for (const bad of ['spiffe://mesh.local', 'spiffe://mesh.local/', 'spiffe://Mesh.Local/x', 'spiffe://mesh.local/a//b', 'spiffe://mesh.local/../x', 'http://mesh.local/x', 'spiffe:///x']) {
    assert.ok(!isSpiffeId(bad), bad)
  }
  for (const ok of ['*', 'spiffe://mesh.local', 'spiffe://mesh.local/', 'spiffe://mesh.local/ns/a/sa/b']) assert.ok(isAllowEntry(ok), ok)
  for (const bad of ['', 'mesh.local', 'spiffe://', 'spiffe://UPPER']) assert.ok(!isAllowEntry(bad), bad)
})
