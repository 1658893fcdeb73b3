/**
 * What the native h2 engine's own tests share: a logger that keeps its entries, a native listener
 * on 127.0.0.1:0 whose request handler a test can swap, a health check through a fresh session of
 * the transport, and a node:http2 client with the test client certificate.
 */
import assert from 'node:assert/strict'
import { connect as http2Connect, type ClientHttp2Session } from 'node:http2'
import { Readable } from 'node:stream'
import type { TLSSocket } from 'node:tls'
import { MeshError } from '../../core/errors.js'
import type { InboundExchange, InboundTunnel, TlsMaterial, Transport, TransportListener, TransportLogger } from '../../transports/contract.js'
import { meshTlsConnect } from './h2-wire.js'
import type { H2Options } from '../../transports/h2/options.js'
import { h2NativeTransport } from '../../transports/h2-native/index.js'
import type { TestPki } from '../helpers/pki.js'

export interface LogEntry {
  level: string
  obj: Record<string, unknown>
  msg?: string
}

/** A logger that keeps every entry in `entries`, with the bindings of its child loggers merged in. */
export function capturingLogger (entries: LogEntry[], bindings: Record<string, unknown> = {}): TransportLogger {
  const at = (level: string) => (obj: object, msg?: string): void => {
    entries.push({ level, obj: { ...bindings, ...obj }, msg })
    if (process.env.MESHGATE_TEST_LOG === '1') console.error(level, msg, { ...bindings, ...obj })
  }
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error'), child: (b) => capturingLogger(entries, { ...bindings, ...b }) }
}

/** Answers 200 with `ok\n` and reads whatever body the request has. */
export const answerOk = (exchange: InboundExchange): void => {
  exchange.body.on('error', () => {})
  exchange.body.resume()
  exchange.respond({ status: 200, headers: { 'content-type': 'text/plain' } }, Readable.from([Buffer.from('ok\n')]))
}

/** The health check's path: always answered by {@link answerOk}, whatever the test's handler. */
const HEALTH_PATH = '/health'

export interface EngineRig {
  listener: TransportListener
  port: number
  logs: LogEntry[]
  /** The listener's request handler (all paths but the health check's); tests replace it (default {@link answerOk}). */
  handler: (exchange: InboundExchange) => void
  /** The listener's CONNECT handler (default: refused with E_NO_ROUTE). */
  tunnelHandler: (tunnel: InboundTunnel) => void
  transport: () => Transport
  /** A fresh session through the transport gets its 200 and `ok\n`, then closes. */
  healthCheck: () => Promise<void>
  /** Graceful close, and destroy() if sessions are still open after `graceMs` (default 2 s). */
  stop: (graceMs?: number) => Promise<void>
}

export async function startEngineRig (pki: TestPki, options: H2Options = {}): Promise<EngineRig> {
  const serverTls = await pki.workload('server')
  const clientTls = await pki.workload('client')
  const logs: LogEntry[] = []
  const transport = (): Transport => h2NativeTransport({ keepAliveMs: 0, ...options })({ logger: capturingLogger(logs) })
  const rig: EngineRig = {
    listener: undefined as unknown as TransportListener,
    port: 0,
    logs,
    handler: answerOk,
    tunnelHandler: (tunnel) => tunnel.reject(new MeshError('E_NO_ROUTE', 'no tunnels here')),
    transport,
    healthCheck: async () => {
      const session = await transport().connect({
        address: rig.listener.address(), expectedIdentity: pki.id('server'), tls: clientTls, connectTimeoutMs: 3000,
      })
      try {
        const response = await session.request({ method: 'GET', authority: 'svc', path: HEALTH_PATH, scheme: 'http', headers: {} }, null)
        assert.equal(response.head.status, 200)
        let body = ''
        for await (const chunk of response.body) body += String(chunk)
        assert.equal(body, 'ok\n')
      } finally {
        await session.close()
      }
    },
    stop: async (graceMs = 2000) => {
      let timer: NodeJS.Timeout | undefined
      const closed = rig.listener.close().then(() => true)
      const late = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), graceMs) })
      if (!(await Promise.race([closed, late]))) rig.listener.destroy()
      clearTimeout(timer)
    },
  }
  rig.listener = await transport().listen({ host: '127.0.0.1', port: 0, tls: serverTls }, {
    request: (exchange) => { (exchange.head.path === HEALTH_PATH ? answerOk : rig.handler)(exchange) },
    tunnel: (tunnel) => rig.tunnelHandler(tunnel),
  })
  rig.port = rig.listener.address().port
  return rig
}

/** A node:http2 client session, and its TLS socket (node:http2 forbids touching the socket through the session). */
export type TestHttp2Client = ClientHttp2Session & { tlsSocket: TLSSocket }

/** A node:http2 client session to 127.0.0.1:`port` with the client certificate; resolves once the server's SETTINGS arrived. */
export async function http2Client (port: number, tls: TlsMaterial): Promise<TestHttp2Client> {
  const tlsSocket = meshTlsConnect(port, tls)
  tlsSocket.on('error', () => {})
  const client = Object.assign(http2Connect(`https://127.0.0.1:${port}`, {
    createConnection: () => tlsSocket,
    // node refuses (REFUSED_STREAM, locally) a header block over 64 KiB before it is compressed;
    // the header-list tests send bigger ones on purpose.
    maxSendHeaderBlockLength: 1024 * 1024,
  }), { tlsSocket })
  client.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    client.once('remoteSettings', () => resolve())
    client.once('error', reject)
    client.once('close', () => reject(new Error('http2 session closed before SETTINGS')))
  })
  return client
}

/** Resolves when `check()` holds, polling every 10 ms; rejects after `timeoutMs`. */
export async function eventually (check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** Waits for `promise` for at most `ms`; resolves either way (the timer does not outlive it). */
export async function settleWithin (promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([promise.catch(() => {}), new Promise((resolve) => { timer = setTimeout(resolve, ms) })])
  clearTimeout(timer)
}
