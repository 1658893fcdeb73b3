/**
 * Header handling shared by the roles: hop-by-hop stripping (RFC 9110 §7.6.1, RFC 9113 §8.2.2),
 * conversion between Node's incoming header objects and the transport's HeaderMap, and the
 * wire headers of the mesh protocol.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http'
import type { HeaderMap } from '../../transports/contract.js'

/** Connection-specific headers that never cross a hop (plus HTTP/2's pseudo-headers). */
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization',
  'te', 'trailer', 'transfer-encoding', 'upgrade', 'http2-settings', 'host',
])

/** Correlates the log lines of one request across both proxies and the app (`x-request-id`). */
export const REQUEST_ID_HEADER = 'x-request-id'

/**
 * Copies `headers` without hop-by-hop fields, the fields that `Connection` names, pseudo-headers
 * and any name in `drop`. `te: trailers` survives (gRPC needs it).
 */
export function endToEndHeaders (headers: IncomingHttpHeaders | HeaderMap, drop?: ReadonlySet<string>): HeaderMap {
  const named = connectionTokens(headers.connection)
  const out: HeaderMap = {}
  for (const name in headers) {
    const value = headers[name]
    if (value === undefined || name.charCodeAt(0) === 58 /* ':' */) continue
    if (HOP_BY_HOP.has(name) || named?.has(name) === true || drop?.has(name) === true) {
      if (name === 'te' && isTrailersOnly(value)) out.te = 'trailers'
      continue
    }
    out[name] = value
  }
  return out
}

/**
 * endToEndHeaders()'s fields as flat name/value pairs appended to `out` (an array value gives a
 * pair per element): what the native front sends as the wire field section, with no object per
 * request in between.
 */
export function appendEndToEnd (out: string[], headers: IncomingHttpHeaders, drop?: ReadonlySet<string>): void {
  const named = connectionTokens(headers.connection)
  for (const name in headers) {
    const value = headers[name]
    if (value === undefined || name.charCodeAt(0) === 58 /* ':' */) continue
    if (HOP_BY_HOP.has(name) || named?.has(name) === true || drop?.has(name) === true) {
      if (name === 'te' && isTrailersOnly(value)) out.push('te', 'trailers')
      continue
    }
    if (Array.isArray(value)) for (const v of value) out.push(name, v)
    else out.push(name, value)
  }
}

function connectionTokens (value: string | string[] | undefined): Set<string> | undefined {
  if (value === undefined) return undefined
  const joined = Array.isArray(value) ? value.join(',') : value
  return new Set(joined.split(',').map((t) => t.trim().toLowerCase()).filter((t) => t !== ''))
}

function isTrailersOnly (value: string | string[]): boolean {
  const joined = Array.isArray(value) ? value.join(',') : value
  return joined.split(',').some((t) => t.trim().toLowerCase() === 'trailers')
}

/** Header value as one string (arrays joined with `, `), or undefined. */
export function headerValue (headers: IncomingHttpHeaders | HeaderMap, name: string): string | undefined {
  const value = headers[name]
  if (value === undefined) return undefined
  return Array.isArray(value) ? value.join(', ') : String(value)
}

/** A HeaderMap in the shape Node's response APIs take. */
export function toOutgoing (headers: HeaderMap): OutgoingHttpHeaders {
  return headers
}

/** Trailer names that must not be forwarded (RFC 9110 §6.5.1: framing and routing fields). */
export function forwardableTrailers (trailers: IncomingHttpHeaders | HeaderMap | undefined): HeaderMap | undefined {
  if (trailers === undefined) return undefined
  const out = endToEndHeaders(trailers)
  delete out['content-length']
  return Object.keys(out).length === 0 ? undefined : out
}

/** Splits `host:port` / `[v6]:port`; port undefined when absent. */
export function splitHostPort (authority: string): { host: string, port: number | undefined } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(authority)
  if (v6 !== null) return { host: v6[1] ?? '', port: v6[2] === undefined ? undefined : Number(v6[2]) }
  const idx = authority.lastIndexOf(':')
  if (idx > 0 && authority.indexOf(':') === idx) {
    const port = Number(authority.slice(idx + 1))
    if (Number.isInteger(port)) return { host: authority.slice(0, idx), port }
  }
  return { host: authority, port: undefined }
}
