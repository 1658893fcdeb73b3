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

/**
 * `GET` answers a JSON summary (method, path, protocol, the caller identity meshgate set);
 * any request with a body echoes it back; `/status/NNN` answers that status; `/delay/MS` answers
 * after MS milliseconds (at most 60 s); a `trailer-echo` request header is sent back as a trailer.
 */
function handle (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void {
  const delay = /^\/delay\/(\d+)$/.exec(req.url ?? '')
  if (delay !== null) {
    const timer = setTimeout(() => answer(req, res), Math.min(Number(delay[1]), 60_000))
    res.once('close', () => clearTimeout(timer))
    req.resume()
    return
  }
  answer(req, res)
}

function answer (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void {
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
  }) + '\n'
  if (typeof trailer === 'string') res.addTrailers({ 'x-echo': trailer })
  res.writeHead(status === null ? 200 : Number(status[1]), { 'content-type': 'application/json' })
  res.end(body)
}

export async function startDemoUpstream (host: string, httpPort: number, tcpPort: number): Promise<DemoUpstream> {
  const http1 = http.createServer(handle)
  const h2c = http2.createServer(handle)
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
  const actualTcp = await listen(echo, tcpPort)
  return {
    httpPort: actualHttp,
    tcpPort: actualTcp,
    close: async () => {
      for (const socket of sockets) socket.destroy()
      await Promise.all([web, echo].map(async (s) => await new Promise((resolve) => s.close(resolve))))
    },
  }
}
