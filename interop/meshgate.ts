/**
 * meshgate's side of every cell: what the QUIC binding (native/) and the h2 transport can do per
 * case and role, and how to start interop/meshgate-endpoint.js as server or client. The limits
 * follow native/README.md ("Limits"); a cell meshgate cannot do is reported unsupported with
 * "meshgate: not implemented (…)", never run as if it could.
 */
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { CaseName, CaseRun, ClientOutcome, Direction, Launch } from './types.js'
import { describeExit, urlsFor } from './peers/common.js'

/**
 * A limit of our side. `runnable` means the case can still be set up (the peer drives the
 * feature) and is only declared unsupported; `--attempt-unsupported` runs those to see what
 * happens on the wire.
 */
interface Limit {
  reason: string
  runnable: boolean
}

const NI = 'meshgate: not implemented'

/** QUIC/HTTP/3 (native/), meshgate as server: the peer's client drives the case. */
const H3_SERVER_LIMITS: Partial<Record<CaseName, Limit>> = {
  retry: { reason: `${NI} (the binding sends no Retry, native/README.md)`, runnable: false },
  resumption: { reason: `${NI} (the binding's server issues no TLS session tickets)`, runnable: true },
  zerortt: { reason: `${NI} (no 0-RTT, native/README.md)`, runnable: true },
  connectionmigration: { reason: `${NI} (no connection migration, native/README.md)`, runnable: true },
}

/** QUIC/HTTP/3 (native/), meshgate as client. */
const H3_CLIENT_LIMITS: Partial<Record<CaseName, Limit>> = {
  keyupdate: { reason: `${NI} (the binding has no call to initiate a key update)`, runnable: false },
  resumption: { reason: `${NI} (the binding's client keeps no TLS session)`, runnable: false },
  zerortt: { reason: `${NI} (no 0-RTT, native/README.md)`, runnable: false },
  connectionmigration: { reason: `${NI} (the client cannot change its local address, native/README.md)`, runnable: false },
}

/** The h2 transport (meshgate as server only: the h2 peers are clients). */
const H2_SERVER_LIMITS: Partial<Record<CaseName, Limit>> = {
  http3: { reason: 'HTTP/3 case: the h2 transport speaks HTTP/2 over TLS', runnable: false },
  retry: { reason: 'QUIC-only case', runnable: false },
  connectionmigration: { reason: 'QUIC-only case', runnable: false },
  zerortt: { reason: `${NI} (the h2 transport takes no TLS early data)`, runnable: false },
}

/** Why meshgate cannot do `testCase` in `direction` over `protocol`, or undefined. */
export function meshgateLimit (protocol: 'h3' | 'h2', direction: Direction, testCase: CaseName): Limit | undefined {
  if (protocol === 'h2') {
    return direction === 'server'
      ? H2_SERVER_LIMITS[testCase]
      : { reason: 'the h2 peers are clients only', runnable: false }
  }
  return (direction === 'server' ? H3_SERVER_LIMITS : H3_CLIENT_LIMITS)[testCase]
}

/** The endpoint program, compiled next to this file (dist/interop/meshgate-endpoint.js). */
export function endpointScript (): string {
  return join(dirname(fileURLToPath(import.meta.url)), 'meshgate-endpoint.js')
}

export function endpointAvailable (): boolean {
  return existsSync(endpointScript())
}

/** Our server for a cell: h3 through native/, h2 through transports/h2. */
export function meshgateServer (run: CaseRun, protocol: 'h3' | 'h2', clientCertificate: boolean): Launch {
  const args = [endpointScript(), 'server', `--proto=${protocol}`, `--host=${run.host}`, `--port=${run.port}`, `--www=${run.www}`,
    `--ca=${run.certs.ca}`, `--cert=${run.certs.serverCert}`, `--key=${run.certs.serverKey}`]
  if (!clientCertificate) args.push('--no-client-cert')
  return { command: process.execPath, args }
}

/** Our HTTP/3 client for a cell: GETs every planned file on one session, checks the server's identity. */
export async function meshgateClient (run: CaseRun, expectIdentity: boolean): Promise<ClientOutcome> {
  const paths = urlsFor(run).map(u => new URL(u).pathname)
  const args = [endpointScript(), 'client', `--host=${run.host}`, `--port=${run.port}`, `--out=${run.download}`,
    `--ca=${run.certs.ca}`, `--cert=${run.certs.clientCert}`, `--key=${run.certs.clientKey}`]
  if (expectIdentity) args.push(`--expect-identity=${run.certs.serverIdentity}`)
  const proc = run.spawn('client', { command: process.execPath, args: [...args, ...paths] })
  const code = await proc.exited
  return { ok: code === 0, detail: describeExit('meshgate client', code) }
}
