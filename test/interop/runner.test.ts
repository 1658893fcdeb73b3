/**
 * The interop runner's own logic without any peer: command-line options, meshgate's declared
 * limits, the reports (terminal, Markdown, HTML), nghttp's frame-log parsing, and the
 * `meshgate interop` command wired into the CLI.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { packageRoot, resolveOptions } from '../../interop/run.js'
import { meshgateLimit } from '../../interop/meshgate.js'
import { htmlReport, markdownReport, terminalMatrix, type RunSummary } from '../../interop/report.js'
import { parseNghttpFrames } from '../../interop/peers/nghttp.js'
import { CASES, DIRECTIONS, type CaseResult } from '../../interop/types.js'

const ROOT = packageRoot()

test('options: defaults cover every peer, case and direction; loopback only; unknown names refused', () => {
  const options = resolveOptions([], ROOT)
  assert.ok(typeof options === 'object')
  assert.deepEqual(options.cases, [...CASES])
  assert.deepEqual(options.directions, [...DIRECTIONS])
  assert.ok(options.peers.includes('ngtcp2') && options.peers.includes('quic-go'))
  assert.equal(options.outDir, join(ROOT, 'interop', 'out'))
  assert.equal(options.timeoutMs, 30_000)
  const narrowed = resolveOptions(['--peers=ngtcp2', '--cases=handshake,retry', '--directions=client', '--timeout=5'], ROOT)
  assert.ok(typeof narrowed === 'object')
  assert.deepEqual([narrowed.peers, narrowed.cases, narrowed.directions, narrowed.timeoutMs], [['ngtcp2'], ['handshake', 'retry'], ['client'], 5000])
  assert.throws(() => resolveOptions(['--peers=nosuch'], ROOT), /unknown peer: nosuch/)
  assert.throws(() => resolveOptions(['--cases=warp'], ROOT), /unknown case: warp/)
  assert.throws(() => resolveOptions(['--host=0.0.0.0'], ROOT), /loopback only/)
  assert.throws(() => resolveOptions(['--timeout=-1'], ROOT), /positive/)
  assert.equal(resolveOptions(['--help'], ROOT), 'help')
})

test('meshgate limits: the features native/README.md lists as missing are never run', () => {
  for (const c of ['retry', 'resumption', 'zerortt', 'connectionmigration'] as const) {
    assert.match(meshgateLimit('h3', 'server', c)?.reason ?? '', /^meshgate: not implemented/)
  }
  for (const c of ['keyupdate', 'resumption', 'zerortt', 'connectionmigration'] as const) {
    assert.match(meshgateLimit('h3', 'client', c)?.reason ?? '', /^meshgate: not implemented/)
  }
  assert.equal(meshgateLimit('h3', 'server', 'retry')?.runnable, false)
  for (const c of ['handshake', 'transfer', 'multiplexing', 'http3', 'chacha20'] as const) {
    assert.equal(meshgateLimit('h3', 'server', c), undefined)
    assert.equal(meshgateLimit('h3', 'client', c), undefined)
  }
  assert.equal(meshgateLimit('h3', 'server', 'keyupdate'), undefined, 'a peer-initiated key update is ngtcp2\'s job inside the binding')
  assert.ok(meshgateLimit('h2', 'server', 'http3') !== undefined)
})

function cell (peer: string, direction: 'server' | 'client', testCase: CaseResult['testCase'], status: CaseResult['status'], reason: string): CaseResult {
  return { peer, direction, testCase, status, reason, durationMs: status === 'unsupported' ? 0 : 1200, logs: status === 'unsupported' ? '' : `logs/${peer}/${direction}/${testCase}` }
}

const SUMMARY: RunSummary = {
  started: '2026-01-01T00:00:00.000Z',
  durationMs: 5000,
  command: 'npm run interop',
  versions: { node: 'v20' },
  unavailable: {},
  results: [
    cell('ngtcp2', 'server', 'handshake', 'pass', '1 file, sha256 equal'),
    cell('ngtcp2', 'server', 'retry', 'unsupported', 'meshgate: not implemented (no Retry)'),
    cell('ngtcp2', 'client', 'handshake', 'fail', 'timed out <after> 30 s'),
    cell('ngtcp2', 'client', 'retry', 'pass', 'Retry seen'),
  ],
}

test('reports: every cell appears with its status, reasons are kept, HTML is escaped', () => {
  const text = terminalMatrix(SUMMARY, false)
  assert.match(text, /ngtcp2 → meshgate\s+pass\s+-/)
  assert.match(text, /meshgate → ngtcp2\s+FAIL\s+pass/)
  assert.match(text, /2 passed, 1 failed, 1 unsupported/)
  const md = markdownReport(SUMMARY)
  assert.match(md, /\| ngtcp2 → meshgate \| ✅ pass \| ➖ \|/)
  assert.match(md, /\| meshgate → ngtcp2 \| ❌ fail \| ✅ pass \|/)
  assert.match(md, /meshgate: not implemented \(no Retry\): ngtcp2 → meshgate \/ retry/)
  const html = htmlReport(SUMMARY)
  assert.match(html, /<td class="fail" title="timed out &lt;after&gt; 30 s">fail<\/td>/)
  assert.match(html, /<td class="unsupported" title="meshgate: not implemented \(no Retry\)">unsupported<\/td>/)
  assert.ok(!html.includes('<after>'))
})

test('nghttp frame log: path, status, DATA bytes and END_STREAM per stream', () => {
  const log = [
    '[  0.065] send HEADERS frame <length=45, flags=0x25, stream_id=13>',
    '          ; END_STREAM | END_HEADERS | PRIORITY',
    '          :path: /a.bin',
    '[  0.065] send HEADERS frame <length=19, flags=0x25, stream_id=15>',
    '          :path: /b.bin',
    '[  0.093] recv (stream_id=13) :status: 200',
    '[  0.093] recv HEADERS frame <length=49, flags=0x04, stream_id=13>',
    '[  0.094] recv DATA frame <length=1000, flags=0x00, stream_id=13>',
    '[  0.094] recv DATA frame <length=24, flags=0x01, stream_id=13>',
    '[  0.095] recv (stream_id=15) :status: 404',
    '[  0.095] recv HEADERS frame <length=9, flags=0x05, stream_id=15>',
  ].join('\n')
  const streams = parseNghttpFrames(log)
  assert.deepEqual(streams.get('13'), { path: '/a.bin', status: '200', bytes: 1024, ended: true })
  assert.deepEqual(streams.get('15'), { path: '/b.bin', status: '404', bytes: 0, ended: true })
})

test('meshgate interop is a CLI command with its own options', () => {
  const cli = join(ROOT, 'dist', 'src', 'cli.js')
  const list = spawnSync(process.execPath, [cli, 'interop', '--list'], { encoding: 'utf8' })
  assert.equal(list.status, 0, list.stderr)
  assert.match(list.stdout, /^ngtcp2 +h3 /m)
  assert.match(list.stdout, /^connectionmigration /m)
  const bad = spawnSync(process.execPath, [cli, 'interop', '--peers=nosuch'], { encoding: 'utf8' })
  assert.equal(bad.status, 2)
  assert.match(bad.stderr, /unknown peer: nosuch/)
  const help = spawnSync(process.execPath, [cli, '--help'], { encoding: 'utf8' })
  assert.match(help.stdout, /meshgate interop \[OPTS\]/)
})
