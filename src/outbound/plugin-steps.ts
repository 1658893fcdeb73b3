/**
 * The outbound exchange's plugin steps, taken only on a listener with `plugins:` or for a request
 * matched to a route with `plugins:` (an exchange with neither never reaches this file): the
 * request head through the listener's plugins before routing (so a plugin may change
 * `:authority`, `:path`, headers, and the route is matched on what it left), then through the
 * route's plugins; the request body through both on its way to the peer, the response head and
 * body back through the route's and then the listener's, and `proxy_on_log` at the end. A local
 * response from a plugin answers the app without a peer.
 */
import type { Readable } from 'node:stream'
import { MeshError, toMeshError } from '../../core/errors.js'
import { endToEndHeaders } from '../http/headers.js'
import { filteredBody } from '../plugins/body-filter.js'
import { requestLineOf, requestPairs, responsePairs, splitPairs, statusOf, type RequestLine } from '../plugins/head-pairs.js'
import { JoinedPass, type PluginPass } from '../plugins/plugin-pass.js'
import type { PluginChain } from '../plugins/plugin-chain.js'
import { requestProperties, type RequestFacts } from '../plugins/properties.js'
import type { LocalResponse } from '../plugins/vm-protocol.js'
import type { HeaderMap, PeerResponse, PeerSession } from '../../transports/contract.js'
import type { OutboundExchange } from './http-exchange.js'

/** What the plugins made of the request head; the exchange sends this instead of the app's. */
export interface PluginHead {
  line: RequestLine
  headers: HeaderMap
}

function factsOf (exchange: OutboundExchange, line: RequestLine, service: string, route: string): RequestFacts {
  const { ctx } = exchange
  return {
    direction: 'outbound',
    method: line.method,
    path: line.path,
    authority: line.authority,
    scheme: line.scheme,
    protocol: exchange.protocol === 'http1' ? 'HTTP/1.1' : 'HTTP/2',
    requestId: exchange.requestId,
    sourcePrincipal: ctx.identity,
    destinationPrincipal: '',
    sourceAddress: exchange.appRemoteAddress(),
    destinationAddress: '',
    service,
    route,
    listener: ctx.listenerName ?? '',
  }
}

/** Runs the listener's `proxy_on_request_headers`, then routes on what the plugins left (or answers locally). */
export function pluginRequestHead (exchange: OutboundExchange, authority: string, meshHeaders: ReadonlySet<string>): void {
  const { ctx } = exchange
  const chain = ctx.plugins
  if (chain === undefined) return
  const line: RequestLine = { method: exchange.appMethod(), path: exchange.appPath(), authority, scheme: 'http' }
  // Not routed yet: the route's name reaches these plugins once it is (routeBy: learn()).
  const stream = chain.open(requestProperties(factsOf(exchange, line, ctx.router.resolve(authority) ?? '', '')))
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
  }, (err: unknown) => { failHead(exchange, err) })
}

/**
 * Runs the matched route's `proxy_on_request_headers` on the head as the listener's plugins left
 * it (or the app's), then picks the endpoint. The request is routed already: `:path`, `:method`
 * and headers these plugins change are sent, a changed `:authority` is not (the request keeps the
 * authority it was routed by).
 */
export function routePluginHead (exchange: OutboundExchange, chain: PluginChain, meshHeaders: ReadonlySet<string>): void {
  const route = exchange.route
  if (route === undefined) return
  const before = exchange.pluginHead
  const line: RequestLine = before?.line ?? { method: exchange.appMethod(), path: exchange.appPath(), authority: exchange.authority, scheme: 'http' }
  const stream = chain.open(requestProperties(factsOf(exchange, line, route.service, route.name)))
  const outer: PluginPass | undefined = exchange.plugins
  exchange.plugins = outer === undefined ? stream : new JoinedPass(outer, stream)
  const pairs = requestPairs(line, before?.headers ?? endToEndHeaders(exchange.appHeaders, meshHeaders))
  stream.requestHeaders(pairs, !exchange.appHasBody()).then((outcome) => {
    if (outcome.local !== undefined) {
      answerLocally(exchange, outcome.local)
      return
    }
    const { pseudo, headers } = splitPairs(outcome.headers)
    exchange.pluginHead = { line: requestLineOf(pseudo, line), headers: endToEndHeaders(headers, meshHeaders) }
    try {
      exchange.pickEndpoint()
    } catch (err) {
      exchange.rescue(err)
    }
  }, (err: unknown) => { failHead(exchange, err) })
}

/** A plugin failed on the request head: the request is counted (with its route, if any) and answered. */
function failHead (exchange: OutboundExchange, err: unknown): void {
  const meshErr = toMeshError(err)
  exchange.report(meshErr.status, meshErr.code)
  exchange.rescue(meshErr)
}

/** The app's request body as the plugins pass it on. */
export function pluginRequestBody (stream: PluginPass, body: Readable): Readable {
  return filteredBody(body, async (chunk, end) => await stream.requestBody(chunk, end))
}

/** Runs `proxy_on_response_headers`, then answers the app with what the plugins left. */
export function pluginResponseHead (exchange: OutboundExchange, session: PeerSession, response: PeerResponse): void {
  const stream = exchange.plugins as PluginPass
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
