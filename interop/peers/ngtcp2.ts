/**
 * Peer: ngtcp2's example HTTP/3 server and client over GnuTLS, as Debian ships them
 * (`gtlsserver` in ngtcp2-server, `gtlsclient` in ngtcp2-client; libngtcp2 0.12, libnghttp3 0.8).
 * Their debug output (without -q, frame dumps off) is the evidence for chacha20, keyupdate,
 * retry, resumption and migration; both write a qlog of every connection into the cell's qlog/.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { haveCommand } from '../process.js'
import type { CaseLogs, CaseName, CaseRun, ClientOutcome, Launch, PeerDefinition } from '../types.js'
import { describeExit, urlsFor } from './common.js'

/** GnuTLS priority string that leaves TLS_CHACHA20_POLY1305_SHA256 as the only cipher suite. */
const CHACHA20_ONLY = 'NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305'
const QUIET_DUMPS = ['--no-quic-dump', '--no-http-dump']

/** The cell's qlog directory, created on first use (the tools do not create it). */
function qlogDir (run: CaseRun): string {
  const dir = join(run.dir, 'qlog')
  mkdirSync(dir, { recursive: true })
  return dir
}

function serverLaunch (run: CaseRun): Launch {
  const args = [...QUIET_DUMPS, '--verify-client', `--htdocs=${run.www}`, '--timeout=10s', `--qlog-dir=${qlogDir(run)}`]
  if (run.testCase === 'chacha20') args.push(`--ciphers=${CHACHA20_ONLY}`)
  if (run.testCase === 'retry') args.push('--validate-addr')
  args.push(run.host, String(run.port), run.certs.serverKey, run.certs.serverCert)
  return { command: 'gtlsserver', args }
}

function clientArgs (run: CaseRun, extra: string[]): string[] {
  const args = [...QUIET_DUMPS, '--exit-on-all-streams-close', '--timeout=10s', `--download=${run.download}`, `--qlog-dir=${qlogDir(run)}`,
    `--key=${run.certs.clientKey}`, `--cert=${run.certs.clientCert}`, ...extra]
  if (run.testCase === 'chacha20') args.push(`--ciphers=${CHACHA20_ONLY}`)
  // Start the key update as soon as the handshake is confirmed, so it happens mid-transfer.
  if (run.testCase === 'keyupdate') args.push('--key-update=1ms')
  if (run.testCase === 'connectionmigration') args.push('--change-local-addr=5ms')
  return [...args, run.host, String(run.port), ...urlsFor(run)]
}

async function runClient (run: CaseRun): Promise<ClientOutcome> {
  const twoConnections = run.testCase === 'resumption' || run.testCase === 'zerortt'
  if (!twoConnections) {
    const proc = run.spawn('client', { command: 'gtlsclient', args: clientArgs(run, []) })
    const code = await proc.exited
    return { ok: code === 0, detail: describeExit('gtlsclient', code) }
  }
  // Two connections: the first stores the TLS session (and transport parameters for 0-RTT).
  const sessionFile = join(run.dir, 'tls-session.pem')
  const tpFile = join(run.dir, 'transport-params')
  const stateArgs = [`--session-file=${sessionFile}`, `--tp-file=${tpFile}`]
  if (run.testCase === 'resumption') stateArgs.push('--disable-early-data')
  const first = await run.spawn('client-1', { command: 'gtlsclient', args: clientArgs(run, stateArgs) }).exited
  if (first !== 0) return { ok: false, detail: `first connection: ${describeExit('gtlsclient', first)}` }
  if (!existsSync(sessionFile) || statSync(sessionFile).size === 0) {
    return { ok: false, detail: 'the server issued no session ticket on the first connection (nothing to resume)' }
  }
  const second = await run.spawn('client', { command: 'gtlsclient', args: clientArgs(run, stateArgs) }).exited
  return { ok: second === 0, detail: `second connection: ${describeExit('gtlsclient', second)}` }
}

/** Bytes of CRYPTO received at the Handshake level: a resumed handshake carries no certificate. */
function handshakeCryptoBytes (log: string): number {
  let total = 0
  for (const m of log.matchAll(/frm rx \d+ Handshake CRYPTO\(0x06\) offset=\d+ len=(\d+)/g)) total += Number(m[1])
  return total
}

/**
 * gtlsclient exits 0 even when it gave up waiting at the idle timeout: a stream whose FIN never
 * came shows only as fewer "HTTP stream N closed" lines than requests.
 */
function incompleteStreams (run: CaseRun, clientLog: string): string | undefined {
  const closed = new Set([...clientLog.matchAll(/HTTP stream (\d+) closed/g)].map(m => m[1])).size
  if (closed >= run.files.length && !/ERR_IDLE_CLOSE/.test(clientLog)) return undefined
  return `gtlsclient saw ${closed} of ${run.files.length} request streams complete and ended at its idle timeout (a response's FIN never arrived)`
}

function evidence (run: CaseRun, logs: CaseLogs): string | undefined {
  const ngtcp2Log = run.direction === 'server' ? logs.client : logs.server
  if (run.direction === 'server') {
    const incomplete = incompleteStreams(run, logs.client)
    if (incomplete !== undefined) return incomplete
  }
  switch (run.testCase) {
    case 'chacha20':
      return /Negotiated cipher suite is CHACHA20-POLY1305/.test(ngtcp2Log) ? undefined : 'ngtcp2 did not report CHACHA20-POLY1305 as the negotiated suite'
    case 'keyupdate':
      return /key update confirmed/.test(ngtcp2Log) ? undefined : 'ngtcp2 never saw its key update confirmed'
    case 'retry':
      return /Sending Retry packet/.test(ngtcp2Log) && /Token was successfully validated/.test(ngtcp2Log)
        ? undefined
        : 'gtlsserver did not send a Retry and validate its token'
    case 'connectionmigration':
      return /Path validation against path .* succeeded/.test(ngtcp2Log) ? undefined : 'gtlsclient did not validate a new path'
    case 'resumption': {
      const first = handshakeCryptoBytes(logs.byLabel['client-1'] ?? '')
      const second = handshakeCryptoBytes(logs.client)
      return second > 0 && second < 400 ? undefined : `second handshake received ${second} bytes of Handshake CRYPTO (first: ${first}): the certificate was sent again, no resumption`
    }
    case 'zerortt':
      return /type=0RTT/.test(ngtcp2Log) ? undefined : 'gtlsclient sent no 0-RTT packet'
    default:
      return undefined
  }
}

const UNSUPPORTED_AS_SERVER: Partial<Record<CaseName, string>> = {
  keyupdate: 'the key update of this case is initiated by the client',
}

export const ngtcp2Peer: PeerDefinition = {
  name: 'ngtcp2',
  description: 'ngtcp2 0.12 examples over GnuTLS (gtlsserver / gtlsclient)',
  protocol: 'h3',
  packages: ['ngtcp2-server', 'ngtcp2-client'],
  available: async () => {
    const missing = [['gtlsserver', 'ngtcp2-server'], ['gtlsclient', 'ngtcp2-client']].filter(([bin]) => !haveCommand(bin as string))
    return missing.length === 0 ? undefined : `not installed: apt-get install -y ${missing.map(([, pkg]) => pkg).join(' ')}`
  },
  supports: (testCase, role) => role === 'server' ? UNSUPPORTED_AS_SERVER[testCase] : undefined,
  server: serverLaunch,
  client: runClient,
  evidence,
}
