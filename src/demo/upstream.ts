/**
 * The demo workload of the embedded default config: HTTP/1.1 and h2c on one port (told apart by
 * the same detection the proxy uses) answering with what it received, and a TCP echo on another.
 * Also used by tests as a ready upstream.
 */
import http from 'node:http'
import http2 from 'node:http2'
import net from 'node:net'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2'
import { detectProtocol } from '../detect/detect.js'

export interface DemoUpstream {
  httpPort: number
  tcpPort: number
  close: () => Promise<void>
}

export interface DemoOptions {
  /** The `version` field of the JSON answers (default `v1`). */
  version?: string
  /** Start the TCP echo too (default true). */
  echo?: boolean
}

/**
 * `GET` answers a JSON summary (method, path, protocol, the caller identity meshgate set, the
 * demo's version); `/flaky?failRate=R` answers 503 to a share R (0–1) of requests, at random;
 * any request with a body echoes it back; `/status/NNN` answers that status; `/delay/MS` answers
 * after MS milliseconds (at most 60 s); a `trailer-echo` request header is sent back as a trailer.
 */
function handle (this: { version: string }, req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void {
  const version = this.version
  const flaky = /^\/flaky(\?|$)/.test(req.url ?? '')
  if (flaky && Math.random() < failRate(req.url ?? '')) {
    req.resume()
    res.writeHead(503, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ service: 'meshgate-demo', version, failed: true }) + '\n')
    return
  }
  const delay = /^\/delay\/(\d+)$/.exec(req.url ?? '')
  if (delay !== null) {
    const timer = setTimeout(() => answer(req, res, version), Math.min(Number(delay[1]), 60_000))
    res.once('close', () => clearTimeout(timer))
    req.resume()
    return
  }
  answer(req, res, version)
}

/** `failRate` of a `/flaky` request's query, clamped to 0–1 (absent or bad: 0.5). */
function failRate (url: string): number {
  const q = url.indexOf('?')
  const value = Number(new URLSearchParams(q < 0 ? '' : url.slice(q + 1)).get('failRate') ?? 0.5)
  return Number.isFinite(value) ? Math.min(1, Math.max(0, value)) : 0.5
}

function answer (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse, version: string): void {
  const status = /^\/status\/(\d{3})$/.exec(req.url ?? '')
  const trailer = req.headers['trailer-echo']
  if (typeof trailer === 'string') res.setHeader('trailer', 'x-echo')
  if (req.method === 'POST' || req.method === 'PUT') {
    res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/octet-stream' })
    req.pipe(res as NodeJS.WritableStream)
    if (typeof trailer === 'string') req.once('end', () => res.addTrailers({ 'x-echo': trailer }))
    return
  }
  req.resume()
  const body = JSON.stringify({
    service: 'meshgate-demo',
    method: req.method,
    path: req.url,
    protocol: `HTTP/${req.httpVersion}`,
    caller: req.headers['meshgate-client-id'] ?? null,
    version,
  }) + '\n'
  if (typeof trailer === 'string') res.addTrailers({ 'x-echo': trailer })
  res.writeHead(status === null ? 200 : Number(status[1]), { 'content-type': 'application/json' })
  res.end(body)
}

export async function startDemoUpstream (host: string, httpPort: number, tcpPort: number, options: DemoOptions = {}): Promise<DemoUpstream> {
  const bound = handle.bind({ version: options.version ?? 'v1' })
  const http1 = http.createServer(bound)
  const h2c = http2.createServer(bound)
  const sockets = new Set<net.Socket>()
  const track = (socket: net.Socket): void => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
    socket.on('error', () => {})
  }
  const web = net.createServer({ pauseOnConnect: true }, (socket) => {
    track(socket)
    detectProtocol(socket, 1000).then((p) => {
      if (p === 'http2') h2c.emit('connection', socket)
      else if (p === 'http1') http1.emit('connection', socket)
      else { socket.destroy(); return }
      socket.resume()
    }, () => socket.destroy())
  })
  const echo = net.createServer({ allowHalfOpen: true }, (socket) => {
    track(socket)
    socket.pipe(socket)
  })
  const listen = async (server: net.Server, port: number): Promise<number> => await new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      const address = server.address()
      resolve(typeof address === 'object' && address !== null ? address.port : 0)
    })
  })
  const actualHttp = await listen(web, httpPort)
  const withEcho = options.echo !== false
  let actualTcp = 0
  try {
    if (withEcho) actualTcp = await listen(echo, tcpPort)
  } catch (err) {
    web.close()
    throw err
  }
  return {
    httpPort: actualHttp,
    tcpPort: actualTcp,
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await Promise.all((withEcho ? [web, echo] : [web]).map(async (s) => await new Promise((resolve) => s.close(resolve))))
    },
  }
}
