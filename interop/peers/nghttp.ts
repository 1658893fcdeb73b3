/**
 * Peer: nghttp (Debian's nghttp2-client) as an HTTP/2-over-TLS client with our client
 * certificate, against the h2 transport's listener; all URIs of a case go concurrently over one
 * connection. nghttp 1.52 cannot save bodies (--remote-name is "not implemented yet"), so it
 * runs with -nv and the runner compares each stream's status and DATA byte count, read from the
 * frame log, with the file's size. nghttp does not verify the server certificate.
 */
import { haveCommand } from '../process.js'
import type { CaseName, CaseRun, ClientOutcome, PeerDefinition } from '../types.js'
import { describeExit, urlsFor } from './common.js'

const H2_ONLY: Partial<Record<CaseName, string>> = {
  http3: 'HTTP/2 peer: nghttp speaks HTTP/2 only',
  chacha20: 'nghttp: no option to choose TLS 1.3 cipher suites',
  keyupdate: 'nghttp: no way to request a TLS KeyUpdate',
  retry: 'QUIC-only case (HTTP/2 runs over TCP)',
  resumption: 'nghttp: no TLS session kept between connections',
  zerortt: 'nghttp: no TLS early data',
  connectionmigration: 'QUIC-only case (HTTP/2 runs over TCP)',
}

interface StreamSeen {
  path?: string
  status?: string
  bytes: number
  ended: boolean
}

/** Per stream id: the request path, response status, DATA bytes and whether END_STREAM came. */
export function parseNghttpFrames (log: string): Map<string, StreamSeen> {
  const streams = new Map<string, StreamSeen>()
  const get = (id: string): StreamSeen => {
    let s = streams.get(id)
    if (s === undefined) {
      s = { bytes: 0, ended: false }
      streams.set(id, s)
    }
    return s
  }
  let lastSentHeaders: string | undefined
  for (const line of log.split('\n')) {
    let m = /send HEADERS frame <.*stream_id=(\d+)>/.exec(line)
    if (m !== null) {
      lastSentHeaders = m[1]
      continue
    }
    m = /^\s+:path: (\S+)/.exec(line)
    if (m !== null && lastSentHeaders !== undefined) {
      get(lastSentHeaders).path = m[1]
      lastSentHeaders = undefined
      continue
    }
    m = /recv \(stream_id=(\d+)\) :status: (\d+)/.exec(line)
    if (m !== null) {
      get(m[1] as string).status = m[2]
      continue
    }
    m = /recv (DATA|HEADERS) frame <length=(\d+), flags=0x([0-9a-f]+), stream_id=(\d+)>/.exec(line)
    if (m !== null) {
      const s = get(m[4] as string)
      if (m[1] === 'DATA') s.bytes += Number(m[2])
      if ((parseInt(m[3] as string, 16) & 0x01) !== 0) s.ended = true
    }
  }
  return streams
}

async function runClient (run: CaseRun): Promise<ClientOutcome> {
  const args = ['--null-out', '--verbose', '--stat', `--cert=${run.certs.clientCert}`, `--key=${run.certs.clientKey}`, '--timeout=60s', ...urlsFor(run)]
  const proc = run.spawn('client', { command: 'nghttp', args })
  const code = await proc.exited
  const sizes: Record<string, number> = {}
  const problems: string[] = []
  for (const s of parseNghttpFrames(proc.output()).values()) {
    if (s.path === undefined) continue
    const name = s.path.replace(/^\//, '')
    if (s.status !== '200') problems.push(`${s.path}: status ${s.status ?? 'none'}`)
    else if (!s.ended) problems.push(`${s.path}: no END_STREAM`)
    else sizes[name] = s.bytes
  }
  if (code !== 0) problems.unshift(describeExit('nghttp', code))
  return { ok: problems.length === 0, detail: problems.length === 0 ? describeExit('nghttp', code) : problems.slice(0, 4).join('; '), sizes }
}

export const nghttpPeer: PeerDefinition = {
  name: 'nghttp',
  description: 'nghttp 1.52 (nghttp2-client): HTTP/2 over TLS with a client certificate',
  protocol: 'h2',
  packages: ['nghttp2-client'],
  available: async () => haveCommand('nghttp') ? undefined : 'not installed: apt-get install -y nghttp2-client',
  supports: (testCase, role) => role === 'server' ? 'nghttp is a client only' : H2_ONLY[testCase],
  client: runClient,
}
