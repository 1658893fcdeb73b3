/**
 * The inbound exchange's plugin steps, taken only when `inbound.plugins` is set: the request head
 * through the plugins after authorization (an unauthorized caller never reaches them) and before
 * delivery (the request line they leave is the one delivered), the request body through them on
 * its way to the workload, the workload's response head and body on their way back,
 * `proxy_on_log` at the end. A local response from a plugin answers the peer without the workload.
 */
import { Readable } from 'node:stream'
import { endToEndHeaders } from '../http/headers.js'
import { filteredBody } from '../plugins/body-filter.js'
import { requestLineOf, requestPairs, responsePairs, splitPairs, statusOf, type RequestLine } from '../plugins/head-pairs.js'
import type { PluginChain } from '../plugins/plugin-chain.js'
import type { PluginStream } from '../plugins/plugin-stream.js'
import { requestProperties } from '../plugins/properties.js'
import type { LocalResponse } from '../plugins/vm-protocol.js'
import type { HeaderMap, InboundExchange } from '../../transports/contract.js'
import type { Delivery, UpstreamResponse } from './http1-upstream.js'

/** What an inbound exchange gives its plugin steps. */
export interface PluginExchange {
  readonly exchange: InboundExchange
  readonly transport: string
  plugins: PluginStream | undefined
  status: number
  report: (status: number, errorCode?: string) => void
  refuse: (err: unknown) => void
  end: (err: Error | null | undefined) => void
}

/**
 * Runs `proxy_on_request_headers` on the headers about to be delivered; `deliver` gets the
 * headers left and the request to deliver: the line the plugins left, the body through them.
 */
export function pluginRequestHead (chain: PluginChain, identity: string, x: PluginExchange, target: string, headers: HeaderMap, deliver: (headers: HeaderMap, request: Delivery) => void): void {
  const { exchange } = x
  const { head, caller } = exchange
  const stream = chain.open(requestProperties({
    direction: 'inbound',
    method: head.method,
    path: head.path,
    authority: head.authority,
    scheme: head.scheme,
    protocol: 'HTTP/2',
    requestId: String(headers['x-request-id'] ?? ''),
    sourcePrincipal: caller,
    destinationPrincipal: identity,
    sourceAddress: '',
    destinationAddress: target,
    service: head.authority,
    route: '',
    listener: x.transport,
  }))
  x.plugins = stream
  const line: RequestLine = { method: head.method, path: head.path, authority: head.authority, scheme: head.scheme }
  stream.requestHeaders(requestPairs(line, headers), !exchange.hasBody).then((outcome) => {
    if (outcome.local !== undefined) {
      answerLocally(x, outcome.local)
      return
    }
    const split = splitPairs(outcome.headers)
    const after = requestLineOf(split.pseudo, line)
    const request: Delivery = {
      head: { ...head, method: after.method, path: after.path, authority: after.authority },
      hasBody: exchange.hasBody,
      body: exchange.hasBody ? filteredBody(exchange.body, async (chunk, end) => await stream.requestBody(chunk, end)) : exchange.body,
      signal: exchange.signal,
    }
    deliver(endToEndHeaders(split.headers), request)
  }, (err: unknown) => { x.refuse(err) })
}

/** Runs `proxy_on_response_headers`, then answers with what the plugins left (body through them too). */
export function pluginResponse (x: PluginExchange, response: UpstreamResponse, answer: (response: UpstreamResponse) => void): void {
  const stream = x.plugins as PluginStream
  const { status, headers } = response.head
  // The body waits while the plugins run: a peer that resets meanwhile destroys it with an error
  // nobody listens for yet.
  response.body.on('error', ignore)
  stream.responseHeaders(responsePairs(status, headers), false, { 'response.code': String(status) }).then((outcome) => {
    if (outcome.local !== undefined) {
      discard(response.body)
      answerLocally(x, outcome.local)
      return
    }
    const split = splitPairs(outcome.headers)
    const body = filteredBody(response.body, async (chunk, end) => await stream.responseBody(chunk, end))
    answer({ ...response, head: { status: statusOf(split.pseudo, status), headers: split.headers }, body })
  }, (err: unknown) => {
    discard(response.body)
    x.refuse(err)
  })
}

function answerLocally (x: PluginExchange, local: LocalResponse): void {
  try {
    x.status = local.status
    x.report(local.status)
    const { headers } = splitPairs(local.headers)
    headers['content-length'] = String(local.body.length)
    x.exchange.respond({ status: local.status, headers }, local.body.length > 0 ? Readable.from([Buffer.from(local.body)]) : null)
    x.end(undefined)
  } catch (err) {
    x.refuse(err)
  }
}

export function pluginLog (x: PluginExchange): void {
  x.plugins?.close({ 'response.code': String(x.status) })
}

function ignore (): void {}

/** Drops a body nobody will read (its error, if any, has no one to go to). */
function discard (body: Readable): void {
  body.on('error', () => {})
  body.destroy()
}
