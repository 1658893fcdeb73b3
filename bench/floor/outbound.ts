/**
 * The node floor, outbound half: the thinnest correct forwarder meshgate's modules allow. HTTP/1.1
 * (node:http) and h2c (node:http2, the stream API) from the load tool become requests on one
 * node:http2 client session over TLS 1.3 with mutual authentication; raw TCP becomes a CONNECT
 * stream. No routing, balancing, metrics, logs, timeouts or trailers (meshgate carries those: one
 * more HEADERS frame per h2c response): what is left is the platform's cost.
 *
 *   node dist/bench/floor/outbound.js '{"listen":{"http1":…,"h2c":…,"tcp":…},"peer":…,"tls":{…}}'
 */
import http from 'node:http'
import http2, { constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2'
import net from 'node:net'
import tls from 'node:tls'
import { CONNECTION_WINDOW, endToEnd, MAX_SESSION_MEMORY, optionsFromArgv, ORIG_PROTO_HEADER, readTls, SETTINGS, type TlsFiles } from './shared.js'

interface Options {
  listen: { http1: number, h2c: number, tcp: number }
  /** The inbound half's port on 127.0.0.1. */
  peer: number
  tls: TlsFiles
  /** How h2c is taken from the app: node:http2's stream API (default) or its compatibility API (as meshgate). */
  h2cApi?: 'stream' | 'compat'
}

const options = optionsFromArgv<Options>()
const pem = readTls(options.tls)
const { HTTP2_HEADER_STATUS, NGHTTP2_CANCEL } = constants

let session: ClientHttp2Session | undefined
/** The one peer session, dialled again if it went away. */
function peer (): ClientHttp2Session {
  if (session !== undefined && !session.closed && !session.destroyed) return session
  const socket = tls.connect({
    host: '127.0.0.1',
    port: options.peer,
    ...pem,
    minVersion: 'TLSv1.3',
    ALPNProtocols: ['h2'],
    // The certificate chain is checked (mesh CA); its SPIFFE ID is a per-session check, not per request.
    checkServerIdentity: () => undefined,
  })
  socket.setNoDelay(true)
  const s = http2.connect(`https://127.0.0.1:${options.peer}`, { createConnection: () => socket, settings: SETTINGS, maxSessionMemory: MAX_SESSION_MEMORY })
  s.once('remoteSettings', () => s.setLocalWindowSize(CONNECTION_WINDOW))
  s.on('error', () => {})
  session = s
  return s
}

/** Answers 502 before the head went out, else drops the response. */
function failHttp1 (res: http.ServerResponse): void {
  if (res.headersSent) res.destroy()
  else res.writeHead(502, { 'content-length': '0' }).end()
}

const http1 = http.createServer((req, res) => {
  const headers = endToEnd(req.headers, false)
  headers[':method'] = req.method
  headers[':path'] = req.url
  headers[':authority'] = req.headers.host
  headers[':scheme'] = 'http'
  headers[ORIG_PROTO_HEADER] = 'HTTP/1.1'
  const hasBody = req.headers['content-length'] !== undefined ? req.headers['content-length'] !== '0' : req.headers['transfer-encoding'] !== undefined
  let upstream: ClientHttp2Stream
  try {
    upstream = peer().request(headers, { endStream: !hasBody })
  } catch {
    failHttp1(res)
    return
  }
  if (hasBody) req.pipe(upstream)
  upstream.on('response', (head: IncomingHttpHeaders) => {
    res.writeHead(Number(head[HTTP2_HEADER_STATUS]), endToEnd(head, false) as http.OutgoingHttpHeaders)
    upstream.pipe(res)
  })
  upstream.on('error', () => failHttp1(res))
  // Only a client that left early cancels: an RST_STREAM per request would trip the peer's
  // rapid-reset limit (nghttp2 answers ~1000 of them with GOAWAY INTERNAL_ERROR).
  res.on('close', () => { if (!res.writableFinished) upstream.close(NGHTTP2_CANCEL) })
})

/** h2c through the compatibility API (Http2ServerRequest / Http2ServerResponse), to weigh it against the stream API. */
function h2cCompat (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse): void {
  const out = endToEnd(req.headers, true)
  out[':scheme'] = 'http'
  let upstream: ClientHttp2Stream
  try {
    upstream = peer().request(out, { endStream: req.stream.endAfterHeaders })
  } catch {
    res.writeHead(502).end()
    return
  }
  if (!req.stream.endAfterHeaders) req.pipe(upstream)
  upstream.on('response', (head: IncomingHttpHeaders) => {
    if (res.stream.destroyed) return
    res.writeHead(Number(head[HTTP2_HEADER_STATUS]), endToEnd(head, false) as OutgoingHttpHeaders)
    upstream.pipe(res)
  })
  upstream.on('error', () => { if (res.headersSent) res.stream.close(NGHTTP2_CANCEL); else res.writeHead(502).end() })
  res.on('close', () => { if (!res.writableFinished) upstream.close(NGHTTP2_CANCEL) })
}

function h2cStream (stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
  const out = endToEnd(headers, true)
  out[':scheme'] = 'http'
  let upstream: ClientHttp2Stream
  try {
    upstream = peer().request(out, { endStream: stream.endAfterHeaders })
  } catch {
    stream.respond({ [HTTP2_HEADER_STATUS]: 502 }, { endStream: true })
    return
  }
  if (!stream.endAfterHeaders) stream.pipe(upstream)
  upstream.on('response', (head: IncomingHttpHeaders) => {
    if (stream.destroyed) return
    stream.respond(endToEnd(head, true) as OutgoingHttpHeaders)
    upstream.pipe(stream)
  })
  upstream.on('error', () => {
    if (stream.headersSent) stream.close(NGHTTP2_CANCEL)
    else stream.respond({ [HTTP2_HEADER_STATUS]: 502 }, { endStream: true })
  })
  stream.on('error', () => {})
  stream.on('close', () => { if (!stream.writableFinished) upstream.close(NGHTTP2_CANCEL) })
}

const h2c = options.h2cApi === 'compat'
  ? http2.createServer({ settings: SETTINGS }, h2cCompat)
  : http2.createServer({ settings: SETTINGS }).on('stream', h2cStream)

const tcp = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
  const tunnel = peer().request({ ':method': 'CONNECT', ':authority': 'upstream:0' })
  tunnel.on('response', (head: IncomingHttpHeaders) => {
    if (Number(head[HTTP2_HEADER_STATUS]) !== 200) { socket.destroy(); tunnel.close(NGHTTP2_CANCEL); return }
    socket.pipe(tunnel).pipe(socket)
  })
  tunnel.on('error', () => socket.destroy())
  socket.on('error', () => tunnel.close(NGHTTP2_CANCEL))
})

http1.listen(options.listen.http1, '127.0.0.1')
h2c.listen(options.listen.h2c, '127.0.0.1')
tcp.listen(options.listen.tcp, '127.0.0.1')
