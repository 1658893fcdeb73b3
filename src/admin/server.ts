/**
 * The admin server (node:http, loopback by default): metrics, health, graceful shutdown, the log
 * level, the effective config, the live tap and the dashboard. Routes are a table: unknown paths
 * answer 404, known paths with another method 405 with `Allow`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Registry } from 'prom-client'
import type { Logger } from '../log.js'
import { getLogLevel, putLogLevel } from './log-level.js'
import { redactSecrets } from './redact.js'
import { send, sendJson } from './respond.js'
import type { TapHub } from './tap.js'
import { serveTap } from './tap-route.js'

export interface AdminOptions {
  /** Bind address (default `127.0.0.1`); anything but loopback must be asked for explicitly. */
  host?: string
  /** 0 picks a free port; read it back from `address`. */
  port: number
  /**
   * On a non-loopback `host`: `read` (default) serves callers from other addresses only
   * REMOTE_READ_PATHS (probes and metrics) and answers 403 to the rest; `full` serves them all.
   */
  remoteAccess?: 'read' | 'full'
  registry: Registry
  /** The process logger; `PUT /log-level` changes its level (children follow). */
  logger: Logger
  /** The effective config; secret-named keys are redacted again before it is served. */
  getConfig: () => unknown
  /** True once listeners are bound and discovery is primed. */
  ready: () => boolean
  /** Starts the graceful drain; called once, after the 202 has been sent. */
  onShutdown: () => void
  tap: TapHub
}

export interface AdminServer {
  readonly address: { host: string, port: number }
  /** `http://host:port` */
  readonly url: string
  /** Ends tap streams, stops accepting and closes every connection. Safe twice. */
  close: () => Promise<void>
}

type Handler = (req: IncomingMessage, url: URL, res: ServerResponse) => void | Promise<void>

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost'])

/** What a caller from off the machine may GET by default: the kubelet's probes and Prometheus. */
export const REMOTE_READ_PATHS: ReadonlySet<string> = new Set(['/ready', '/live', '/metrics'])

/** Whether the TCP peer is this machine (IPv4 loopback, ::1, or IPv4-mapped loopback). */
function peerIsLoopback (address: string | undefined): boolean {
  if (address === undefined) return false
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address
  return v4.startsWith('127.') || address === '::1'
}

function isLoopback (host: string): boolean {
  return LOOPBACK.has(host) || host.startsWith('127.')
}

/** Host names a browser may reach a loopback admin by; others are DNS-rebinding attempts. */
function hostAllowed (hostHeader: string | undefined): boolean {
  if (hostHeader === undefined) return true
  const name = hostHeader.replace(/:\d+$/, '').replace(/^\[|\]$/g, '')
  return name === 'localhost' || /^[\d.]+$/.test(name) || name.includes(':')
}

/** Browsers send Origin on cross-site POST/PUT; only our own page may change state. */
function originAllowed (req: IncomingMessage): boolean {
  const origin = req.headers.origin
  return origin === undefined || origin === `http://${req.headers.host ?? ''}`
}

export async function startAdmin (options: AdminOptions): Promise<AdminServer> {
  const { registry, logger, tap } = options
  const host = options.host ?? '127.0.0.1'
  const remoteAccess = options.remoteAccess ?? 'read'
  const log = logger.child({ component: 'admin' })
  const tapClosers = new Set<() => void>()
  let shutdownCalled = false

  const routes: Record<string, Record<string, Handler>> = {
    // The dashboard (its page, and a script built from the metrics readers) is loaded on first view.
    '/': {
      GET: async (_q, _u, res) => {
        const { DASHBOARD_CSP, DASHBOARD_HTML } = await import('./dashboard/index.js')
        send(res, 200, DASHBOARD_HTML, 'text/html; charset=utf-8', { 'content-security-policy': DASHBOARD_CSP })
      },
    },
    '/favicon.ico': { GET: (_q, _u, res) => { res.writeHead(204).end() } },
    '/dashboard.js': {
      GET: async (_q, _u, res) => { send(res, 200, (await import('./dashboard/index.js')).DASHBOARD_SCRIPT, 'text/javascript; charset=utf-8') },
    },
    '/metrics': {
      GET: async (_q, _u, res) => { send(res, 200, await registry.metrics(), registry.contentType) },
    },
    '/ready': { GET: (_q, _u, res) => { if (options.ready()) send(res, 200, 'ready\n'); else send(res, 503, 'not ready\n') } },
    '/live': { GET: (_q, _u, res) => { send(res, 200, 'live\n') } },
    '/shutdown': {
      POST: (_q, _u, res) => {
        send(res, 202, 'shutting down\n')
        if (shutdownCalled) return
        shutdownCalled = true
        log.info({}, 'shutdown requested through the admin server')
        res.once('finish', () => { setImmediate(options.onShutdown) })
      },
    },
    '/log-level': {
      GET: (_q, _u, res) => { getLogLevel(logger, res) },
      PUT: async (req, url, res) => { await putLogLevel(logger, req, url, res) },
    },
    '/config': { GET: (_q, _u, res) => { sendJson(res, 200, redactSecrets(options.getConfig())) } },
    '/tap': {
      GET: (req, url, res) => {
        serveTap(tap, req, url, res, (close) => {
          tapClosers.add(close)
          return () => { tapClosers.delete(close) }
        })
      },
    },
  }

  const loopbackBound = isLoopback(host)
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://admin')
    const methods = routes[url.pathname]
    if (loopbackBound && !hostAllowed(req.headers.host)) {
      send(res, 403, 'forbidden host\n')
      return
    }
    if (methods === undefined) {
      send(res, 404, `not found: ${url.pathname}\n`)
      return
    }
    // A pod-IP admin (the kubelet must reach /ready) is reachable from the pod network too: only
    // the probes and metrics are served there unless remoteAccess: full says otherwise.
    if (!loopbackBound && remoteAccess === 'read' && !peerIsLoopback(req.socket.remoteAddress) && !(REMOTE_READ_PATHS.has(url.pathname) && (req.method === 'GET' || req.method === 'HEAD'))) {
      send(res, 403, `${url.pathname} is served to loopback callers only (admin.remoteAccess: full serves it to all)\n`)
      return
    }
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? 'GET')
    const handler = methods[method]
    if (handler === undefined) {
      send(res, 405, `method ${req.method ?? ''} not allowed on ${url.pathname}\n`, undefined, { allow: Object.keys(methods).join(', ') })
      return
    }
    if (method !== 'GET' && !originAllowed(req)) {
      send(res, 403, 'cross-origin request refused\n')
      return
    }
    Promise.resolve(handler(req, url, res)).catch((err: unknown) => {
      log.error({ err, path: url.pathname }, 'admin handler failed')
      if (!res.headersSent) send(res, 500, 'internal error\n')
      else res.destroy()
    })
  })
  server.keepAliveTimeout = 5000

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const bound = server.address() as AddressInfo
  const address = { host, port: bound.port }
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${bound.port}`
  if (!loopbackBound) log.warn({ host, port: bound.port }, 'admin server bound beyond loopback')
  log.info({ url }, 'admin server listening')

  let closing: Promise<void> | undefined
  return {
    address,
    url,
    close: async () => {
      closing ??= new Promise<void>((resolve) => {
        for (const close of [...tapClosers]) close()
        server.close(() => { resolve() })
        server.closeAllConnections()
      })
      return closing
    },
  }
}
