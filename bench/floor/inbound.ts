/**
 * The node floor, inbound half: a node:http2 secure server (TLS 1.3, client certificate from the
 * mesh CA required) that hands each stream to the upstream its client spoke: an undici Pool for
 * requests that were HTTP/1.1 at the app, one node:http2 client session for h2c, node:net for a
 * CONNECT. No target table, identity check per stream, metrics, logs or timeouts.
 *
 *   node dist/bench/floor/inbound.js '{"listen":…,"upstream":{"http1":…,"h2c":…,"tcp":…},"tls":{…}}'
 */
import http from 'node:http'
import http2, { constants, type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream } from 'node:http2'
import net from 'node:net'
import { PassThrough, type Readable } from 'node:stream'
import { Pool } from 'undici'
import { CONNECTION_WINDOW, endToEnd, MAX_SESSION_MEMORY, optionsFromArgv, ORIG_PROTO_HEADER, readTls, SETTINGS, type TlsFiles } from './shared.js'

interface Options {
  listen: number
  upstream: { http1: number, h2c: number, tcp: number }
  tls: TlsFiles
  /** HTTP/1 client to the upstream: undici's Pool (default, as meshgate) or a keep-alive node:http Agent. */
  http1Client?: 'undici' | 'agent'
}

const options = optionsFromArgv<Options>()
const pem = readTls(options.tls)
const { HTTP2_HEADER_STATUS, NGHTTP2_CANCEL } = constants

// undici as meshgate's inbound side sets it up (src/inbound/http1-upstream.ts).
const pool = new Pool(`http://127.0.0.1:${options.upstream.http1}`, { connections: 256, keepAliveTimeout: 4_000 })

let h2cSession: ClientHttp2Session | undefined
function h2cUpstream (): ClientHttp2Session {
  if (h2cSession !== undefined && !h2cSession.closed && !h2cSession.destroyed) return h2cSession
  const s = http2.connect(`http://127.0.0.1:${options.upstream.h2c}`, { settings: { initialWindowSize: SETTINGS.initialWindowSize } })
  s.on('error', () => {})
  h2cSession = s
  return s
}

function fail (stream: ServerHttp2Stream): void {
  if (stream.destroyed || stream.closed) return
  if (stream.headersSent) stream.close(NGHTTP2_CANCEL)
  else stream.respond({ [HTTP2_HEADER_STATUS]: 502 }, { endStream: true })
}

/** Destroys an undici body, which then errors with RequestAbortedError: nobody is left to hear it. */
function drop (body: Readable): void {
  body.on('error', () => {})
  body.destroy()
}

function toHttp1 (stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
  const out = endToEnd(headers, false)
  delete out[ORIG_PROTO_HEADER]
  out.host = headers[':authority']
  // undici destroys a body it has sent; a PassThrough keeps that from resetting the h2 stream.
  const body: Readable | null = stream.endAfterHeaders ? null : stream.pipe(new PassThrough())
  pool.request({ method: headers[':method'] as 'GET', path: headers[':path'] ?? '/', headers: out as Record<string, string>, body }).then((response) => {
    if (stream.destroyed || stream.closed) { drop(response.body); return }
    const head = endToEnd(response.headers, false)
    head[HTTP2_HEADER_STATUS] = response.statusCode
    stream.respond(head)
    response.body.pipe(stream)
    // pipe() lets go of the body when the stream closes; destroying it frees the upstream connection.
    stream.once('close', () => { if (!response.body.readableEnded) drop(response.body) })
  }, () => fail(stream))
}

// The alternative HTTP/1 client, to weigh undici against node's own on tiny requests.
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 })

function toHttp1Agent (stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
  const out = endToEnd(headers, false)
  delete out[ORIG_PROTO_HEADER]
  out.host = headers[':authority']
  const req = http.request({ agent, host: '127.0.0.1', port: options.upstream.http1, method: headers[':method'], path: headers[':path'], headers: out as http.OutgoingHttpHeaders }, (response) => {
    if (stream.destroyed || stream.closed) { response.destroy(); return }
    const head = endToEnd(response.headers, false)
    head[HTTP2_HEADER_STATUS] = response.statusCode
    stream.respond(head)
    response.pipe(stream)
    stream.once('close', () => { if (!response.readableEnded) response.destroy() })
  })
  req.on('error', () => fail(stream))
  if (stream.endAfterHeaders) req.end()
  else stream.pipe(req)
}

function toH2c (stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
  const out = endToEnd(headers, true)
  out[':scheme'] = 'http'
  const upstream = h2cUpstream().request(out, { endStream: stream.endAfterHeaders })
  if (!stream.endAfterHeaders) stream.pipe(upstream)
  upstream.on('response', (head: IncomingHttpHeaders) => {
    if (stream.destroyed) return
    stream.respond(endToEnd(head, true) as OutgoingHttpHeaders)
    upstream.pipe(stream)
  })
  upstream.on('error', () => fail(stream))
  // Only a stream closed before its answer went out cancels: an RST_STREAM per request would trip
  // the peer's rapid-reset limit (nghttp2 answers ~1000 of them with GOAWAY INTERNAL_ERROR).
  stream.on('close', () => { if (!stream.writableFinished) upstream.close(NGHTTP2_CANCEL) })
}

function toTcp (stream: ServerHttp2Stream): void {
  const socket = net.connect({ host: '127.0.0.1', port: options.upstream.tcp, noDelay: true, allowHalfOpen: true })
  socket.once('connect', () => {
    stream.respond({ [HTTP2_HEADER_STATUS]: 200 })
    socket.pipe(stream).pipe(socket)
  })
  socket.on('error', () => fail(stream))
}

const server = http2.createSecureServer({
  ...pem,
  minVersion: 'TLSv1.3',
  requestCert: true,
  rejectUnauthorized: true,
  settings: SETTINGS,
  maxSessionMemory: MAX_SESSION_MEMORY,
})
server.on('connection', (socket: net.Socket) => socket.setNoDelay(true))
server.on('session', (session) => session.setLocalWindowSize(CONNECTION_WINDOW))
server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) => {
  stream.on('error', () => {})
  if (headers[':method'] === 'CONNECT') toTcp(stream)
  else if (headers[ORIG_PROTO_HEADER] === 'HTTP/1.1') (options.http1Client === 'agent' ? toHttp1Agent : toHttp1)(stream, headers)
  else toH2c(stream, headers)
})
server.listen(options.listen, '127.0.0.1')
