// Real HTTP/2 clients of the native engine's inbound listener: curl and nghttp with the mesh
// client certificate reach the workload through it; h2load drives the engine's framing (it has
// no client-certificate option, so it talks to an engine server that does not ask for one).
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { loadEngine } from '../../native/engine.js'
import { createServer, type EndpointConstructor, type QuicServer } from '../../native/quic.js'
import { startPair, type Pair } from '../helpers/pair.js'
import { nativeSkip } from '../helpers/transports.js'

function missing (tool: string): string | false {
  return spawnSync(tool, ['--version'], { stdio: 'ignore' }).error === undefined ? false : `${tool} is not installed (apt-get install curl nghttp2-client)`
}

/** Runs a client without blocking the loop (the proxies under test run in this process). */
async function run (tool: string, args: string[]): Promise<{ status: number, stdout: string, stderr: string }> {
  return await new Promise((resolve) => {
    execFile(tool, args, { encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
      const code = (err as { code?: unknown } | null)?.code
      resolve({ status: err === null ? 0 : typeof code === 'number' ? code : 1, stdout, stderr })
    })
  })
}

const SKIP = nativeSkip()

describe('curl, nghttp and h2load as clients of the native inbound', { skip: SKIP, timeout: 60_000 }, () => {
  let pair: Pair
  before(async () => { pair = await startPair({ dataPlane: 'native' }) })
  after(async () => { await pair?.close() })

  // -k: the mesh authenticates the server by its URI SAN, which curl cannot check; the server
  // still checks ours.
  const tls = (): string[] => ['-k', '--cert', join(pair.dir, 'client.crt'), '--key', join(pair.dir, 'client.key')]
  const target = (): string => `meshgate-target: 127.0.0.1:${pair.upstream.httpPort}`

  it('curl --http2 with the client certificate gets the workload, which sees the caller', { skip: missing('curl') }, async () => {
    const result = await run('curl', ['-sS', '--http2', '--max-time', '10', ...tls(), '-H', target(), '-H', 'host: web.test',
      '-w', '\n%{http_version} %{http_code}', `https://127.0.0.1:${pair.peerPort}/hello`])
    assert.equal(result.status, 0, result.stderr)
    const lines = result.stdout.trim().split('\n')
    assert.equal(lines.at(-1), '2 200')
    const body = JSON.parse(lines.slice(0, -1).join('\n')) as { caller: string, path: string }
    assert.equal(body.caller, pair.pki.id('client'))
    assert.equal(body.path, '/hello')
  })

  it('curl without a client certificate is refused at the handshake', { skip: missing('curl') }, async () => {
    const result = await run('curl', ['-sS', '-k', '--http2', '--max-time', '10', '-H', target(),
      `https://127.0.0.1:${pair.peerPort}/`])
    assert.notEqual(result.status, 0)
  })

  it('nghttp with the client certificate gets the workload, headers and all', { skip: missing('nghttp') }, async () => {
    const result = await run('nghttp', ['-v', '-t', '10', '--cert', join(pair.dir, 'client.crt'), '--key', join(pair.dir, 'client.key'),
      '-H', ':authority: web.test', '-H', target(), `https://127.0.0.1:${pair.peerPort}/n`])
    assert.equal(result.status, 0, result.stderr)
    assert.match(result.stdout, /:status: 200/)
    assert.match(result.stdout, /"path":"\/n"/)
  })

  it('h2load: 2000 requests over 4 connections and 20 streams each, all 200', { skip: missing('h2load') }, async () => {
    const server: QuicServer = await createServer({
      ...(await pair.pki.workload('server')),
      requireClientCert: false,
      port: 0,
      onSession: (session) => session.on('stream', (stream) => { stream.respond({ ':status': '200' }); stream.end('ok') }),
    }, loadEngine().Engine as unknown as EndpointConstructor)
    try {
      const result = await run('h2load', ['-n', '2000', '-c', '4', '-m', '20', '-T', '20', `https://127.0.0.1:${server.address().port}/`])
      assert.equal(result.status, 0, result.stderr)
      assert.match(result.stdout, /status codes: 2000 2xx/)
      assert.match(result.stdout, /requests: 2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed/)
    } finally {
      server.destroy()
    }
  })
})
