/**
 * Peer: curl (Debian's, OpenSSL + nghttp2) as an HTTP/2-over-TLS client with our client
 * certificate, against the h2 transport's listener. It verifies our server against the test CA
 * by the name `localhost` (pinned to 127.0.0.1 with --resolve).
 */
import { haveCommand } from '../process.js'
import type { CaseName, CaseRun, ClientOutcome, PeerDefinition } from '../types.js'
import { describeExit, urlsFor } from './common.js'

const H2_ONLY: Partial<Record<CaseName, string>> = {
  http3: 'HTTP/2 peer: Debian\'s curl 7.88 is built without HTTP/3',
  keyupdate: 'curl: no way to request a TLS KeyUpdate',
  retry: 'QUIC-only case (HTTP/2 runs over TCP)',
  resumption: 'curl: one run opens one connection per host, and sessions are not kept across runs',
  zerortt: 'curl 7.88: no TLS early data',
  connectionmigration: 'QUIC-only case (HTTP/2 runs over TCP)',
}

async function runClient (run: CaseRun): Promise<ClientOutcome> {
  const host = run.certs.serverName
  const args = ['--http2', '--silent', '--show-error', '--fail', '--verbose',
    '--cacert', run.certs.ca, '--cert', run.certs.clientCert, '--key', run.certs.clientKey,
    '--resolve', `${host}:${run.port}:${run.host.includes(':') ? `[${run.host}]` : run.host}`, '--max-time', '60',
    '--output-dir', run.download, '--write-out', 'http_version=%{http_version} %{url_effective}\\n']
  if (run.files.length > 1) args.push('--parallel', '--parallel-max', '100')
  if (run.testCase === 'chacha20') args.push('--tls13-ciphers', 'TLS_CHACHA20_POLY1305_SHA256')
  for (const url of urlsFor(run, host)) args.push('--remote-name', url)
  const proc = run.spawn('client', { command: 'curl', args })
  const code = await proc.exited
  return { ok: code === 0, detail: describeExit('curl', code) }
}

export const curlPeer: PeerDefinition = {
  name: 'curl',
  description: 'curl 7.88 (OpenSSL, nghttp2): HTTP/2 over TLS with a client certificate',
  protocol: 'h2',
  packages: ['curl'],
  available: async () => haveCommand('curl') ? undefined : 'not installed: apt-get install -y curl',
  supports: (testCase, role) => role === 'server' ? 'curl is a client only' : H2_ONLY[testCase],
  client: runClient,
  evidence: (run, logs) => {
    const versions = [...logs.client.matchAll(/^http_version=(\S+)/gm)].map(m => m[1])
    if (versions.length !== run.files.length || versions.some(v => v !== '2')) {
      return `curl reported HTTP versions [${versions.join(', ')}], expected ${run.files.length} × 2`
    }
    if (run.testCase === 'chacha20' && !/TLS_CHACHA20_POLY1305_SHA256/.test(logs.client)) {
      return 'curl did not report TLS_CHACHA20_POLY1305_SHA256'
    }
    return undefined
  },
}
