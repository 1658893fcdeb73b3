/**
 * What a transport's own test file sets up for its transport-only cases: a quiet logger, a test
 * PKI with server and client certificates, and transport / listen / connect helpers whose
 * listeners and sessions are torn down in after(). Call it inside a describe().
 */
import { after, before } from 'node:test'
import { MeshError } from '../../core/errors.js'
import type {
  InboundExchange, PeerSession, TlsMaterial, Transport, TransportFactory, TransportListener, TransportLogger, TransportObserver,
} from '../../transports/contract.js'
import { makePki, type TestPki } from './pki.js'

function log (level: string, obj: object, msg?: string): void {
  if (process.env.MESHGATE_TEST_LOG === '1') console.error(level, msg, obj)
}

/** A logger that drops everything (MESHGATE_TEST_LOG=1 prints it). */
export const quietLogger: TransportLogger = {
  debug: (obj, msg) => log('debug', obj, msg),
  info: (obj, msg) => log('info', obj, msg),
  warn: (obj, msg) => log('warn', obj, msg),
  error: (obj, msg) => log('error', obj, msg),
  child: () => quietLogger,
}

export interface TransportRig<O> {
  /** Set in before(). */
  pki: TestPki
  serverTls: TlsMaterial
  clientTls: TlsMaterial
  /** Run in reverse order in after(). */
  cleanups: Array<() => void>
  transport: (options?: O, observer?: TransportObserver) => Transport
  /** A listener with the server certificate on 127.0.0.1:0 that refuses tunnels. */
  listen: (options: O, onRequest: (exchange: InboundExchange) => void) => Promise<TransportListener>
  /** A session to 127.0.0.1:`port` with the client certificate, expecting the server's identity. */
  connect: (port: number, options?: O, observer?: TransportObserver) => Promise<PeerSession>
}

export function transportRig<O> (factory: (options: O) => TransportFactory, defaults: O): TransportRig<O> {
  const rig = {
    cleanups: [] as Array<() => void>,
    transport: (options: O = defaults, observer?: TransportObserver): Transport =>
      factory(options)(observer === undefined ? { logger: quietLogger } : { logger: quietLogger, observer }),
    listen: async (options: O, onRequest: (exchange: InboundExchange) => void): Promise<TransportListener> => {
      const listener = await rig.transport(options).listen({ host: '127.0.0.1', port: 0, tls: rig.serverTls }, {
        request: onRequest,
        tunnel: (tunnel) => tunnel.reject(new MeshError('E_TARGET_NOT_ALLOWED', 'no tunnels here')),
      })
      rig.cleanups.push(() => listener.destroy())
      return listener
    },
    connect: async (port: number, options: O = defaults, observer?: TransportObserver): Promise<PeerSession> => {
      const session = await rig.transport(options, observer).connect({
        address: { host: '127.0.0.1', port }, expectedIdentity: rig.pki.id('server'), tls: rig.clientTls, connectTimeoutMs: 3000,
      })
      rig.cleanups.push(() => session.destroy())
      return session
    },
  } as TransportRig<O>
  before(async () => {
    rig.pki = await makePki()
    rig.serverTls = await rig.pki.workload('server')
    rig.clientTls = await rig.pki.workload('client')
  })
  after(() => {
    for (const cleanup of rig.cleanups.reverse()) cleanup()
  })
  return rig
}
