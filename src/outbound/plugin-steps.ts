/**
 * The outbound exchange's plugin steps, taken only on a listener with `plugins:` (a listener
 * without them never reaches this file): the request head through the plugins before routing (so
 * a plugin may change `:authority`, `:path`, headers), the request body through them on its way
 * to the peer, the response head before the app sees it, the response body on its way back, and
 * `proxy_on_log` at the end. A local response from a plugin answers the app without a peer.
 */
import type { Readable } from 'node:stream'
import { MeshError } from '../../core/errors.js'
import { endToEndHeaders } from '../http/headers.js'
import { filteredBody } from '../plugins/body-filter.js'
import { requestLineOf, requestPairs, responsePairs, splitPairs, statusOf, type RequestLine } from '../plugins/head-pairs.js'
import type { PluginStream } from '../plugins/plugin-stream.js'
import { requestProperties } from '../plugins/properties.js'
import type { LocalResponse } from '../plugins/vm-protocol.js'
import type { HeaderMap, PeerResponse, PeerSession } from '../../transports/contract.js'
import type { OutboundExchange } from './http-exchange.js'

/** What the plugins made of the request head; the exchange sends this instead of the app's. */
export interface PluginHead {
  line: RequestLine
  headers: HeaderMap
}

/** Runs `proxy_on_request_headers`, then routes on what the plugins left (or answers locally). */
export function pluginRequestHead (exchange: OutboundExchange, authority: string, meshHeaders: ReadonlySet<string>): void {
  const { ctx } = exchange
  const chain = ctx.plugins
  if (chain === undefined) return
  const line: RequestLine = { method: exchange.appMethod(), path: exchange.appPath(), authority, scheme: 'http' }
  const stream = chain.open(requestProperties({
    direction: 'outbound',
    method: line.method,
    path: line.path,
    authority,
    scheme: line.scheme,
    protocol: exchange.protocol === 'http1' ? 'HTTP/1.1' : 'HTTP/2',
    requestId: exchange.requestId,
    sourcePrincipal: ctx.identity,
    destinationPrincipal: '',
    sourceAddress: exchange.appRemoteAddress(),
    destinationAddress: '',
    service: ctx.router.resolve(authority) ?? '',
    listener: ctx.listenerName ?? '',
  }))
  exchange.plugins = stream
  const pairs = requestPairs(line, endToEndHeaders(exchange.appHeaders, meshHeaders))
  stream.requestHeaders(pairs, !exchange.appHasBody()).then((outcome) => {
    if (outcome.local !== undefined) {
      answerLocally(exchange, outcome.local)
      return
    }
    const { pseudo, headers } = splitPairs(outcome.headers)
    const after = requestLineOf(pseudo, line)
    exchange.pluginHead = { line: after, headers: endToEndHeaders(headers, meshHeaders) }
    exchange.routeAuthority(after.authority)
  }, (err: unknown) => { exchange.rescue(err) })
}

/** The app's request body as the plugins pass it on. */
export function pluginRequestBody (stream: PluginStream, body: Readable): Readable {
  return filteredBody(body, async (chunk, end) => await stream.requestBody(chunk, end))
}

/** Runs `proxy_on_response_headers`, then answers the app with what the plugins left. */
export function pluginResponseHead (exchange: OutboundExchange, session: PeerSession, response: PeerResponse): void {
  const stream = exchange.plugins as PluginStream
  const { status, headers } = response.head
  // The body waits while the plugins run: a client that leaves meanwhile destroys it with an error
  // nobody listens for yet (the body's own listeners come with streamResponse()).
  response.body.on('error', ignore)
  const properties = {
    'response.code': String(status),
    'destination.principal': session.peerIdentity,
    'connection.uri_san_peer_certificate': session.peerIdentity,
    'upstream.address': exchange.pick?.endpoint.key.split('|')[0] ?? '',
    'meshgate.target': exchange.pick?.endpoint.target ?? '',
  }
  stream.responseHeaders(responsePairs(status, endToEndHeaders(headers)), false, properties).then((outcome) => {
    if (outcome.local !== undefined) {
      discard(response.body)
      answerLocally(exchange, outcome.local)
      return
    }
    const split = splitPairs(outcome.headers)
    const finalStatus = statusOf(split.pseudo, status)
    exchange.status = finalStatus
    exchange.report(finalStatus, exchange.errorCode)
    const body = filteredBody(response.body, async (chunk, end) => await stream.responseBody(chunk, end))
    exchange.streamResponse(finalStatus, split.headers, body)
  }, (err: unknown) => {
    discard(response.body)
    exchange.report(500, 'E_PLUGIN')
    exchange.rescue(err)
  })
}

/** A plugin's `proxy_send_local_response`, as the app's answer. */
function answerLocally (exchange: OutboundExchange, local: LocalResponse): void {
  try {
    exchange.status = local.status
    exchange.report(local.status, undefined)
    const { headers } = splitPairs(local.headers)
    headers['content-length'] = String(local.body.length)
    exchange.answer(local.status, headers)
    if (local.body.length > 0 && exchange.appMethod() !== 'HEAD') exchange.writeChunk(Buffer.from(local.body))
    exchange.finish(undefined)
    exchange.responseBytes = local.body.length
    exchange.done()
  } catch (err) {
    exchange.rescue(new MeshError('E_PLUGIN', `local response of a plugin failed: ${(err as Error).message}`))
  }
}

/** `proxy_on_log` and the end of the stream's contexts, with the final status. */
export function pluginLog (exchange: OutboundExchange): void {
  exchange.plugins?.close({ 'response.code': String(exchange.status) })
}

function ignore (): void {}

/** Drops a body nobody will read (its error, if any, has no one to go to). */
function discard (body: Readable): void {
  body.on('error', () => {})
  body.destroy()
}
