// Header translation between the contract's HeaderMap / RequestHead and node:http2 header objects.
// Types only: the h3 transport shares these helpers, and a runtime import of node:http2 here
// made every h3-only process load node:http2 and node:tls (~1.4 MB of RSS) for five strings.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2'
import type { HeaderMap, RequestHead, ResponseHead } from '../contract.js'

// RFC 9113 §8.3 pseudo-headers: the values of node:http2's constants of the same names.
const HTTP2_HEADER_METHOD = ':method'
const HTTP2_HEADER_AUTHORITY = ':authority'
const HTTP2_HEADER_PATH = ':path'
const HTTP2_HEADER_SCHEME = ':scheme'
const HTTP2_HEADER_STATUS = ':status'
/** RFC 8441 §4 pseudo-header (absent from @types/node's constants). */
const HTTP2_HEADER_PROTOCOL = ':protocol'

/** Connection-specific fields HTTP/2 forbids (RFC 9113 §8.2.2); `te` is handled apart. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade'])

/**
 * Copies `headers` without hop-by-hop fields: the fixed list, any field the `connection` header
 * names, and `te` unless it is exactly `trailers` (RFC 9113 §8.2.2). Pseudo-headers are dropped.
 */
export function stripHopByHop (headers: HeaderMap): OutgoingHttpHeaders {
  // for…in, and the Set only when a `connection` field exists: this runs twice per request.
  let named: Set<string> | undefined
  for (const name in headers) {
    if (name.length === 10 && name.toLowerCase() === 'connection') connectionTokens(headers[name], named ??= new Set())
  }
  const out: OutgoingHttpHeaders = {}
  for (const rawName in headers) {
    const value = headers[rawName]
    const name = rawName.toLowerCase()
    if (name.charCodeAt(0) === 58 /* ':' */ || HOP_BY_HOP.has(name) || named?.has(name) === true) continue
    if (name === 'te') {
      if (isTrailersOnly(value)) out.te = 'trailers'
      continue
    }
    out[name] = value
  }
  return out
}

/** Adds the field names a `connection` header lists to `into` (RFC 9110 §7.6.1). */
function connectionTokens (value: string | string[], into: Set<string>): void {
  for (const item of Array.isArray(value) ? value : [value]) {
    for (const token of item.split(',')) {
      const name = token.trim().toLowerCase()
      if (name !== '') into.add(name)
    }
  }
}

function isTrailersOnly (value: string | string[]): boolean {
  const items = (Array.isArray(value) ? value : [value]).flatMap((v) => v.split(',')).map((v) => v.trim().toLowerCase())
  return items.length > 0 && items.every((v) => v === 'trailers')
}

/**
 * The HEADERS of a request. A plain CONNECT carries only `:method` and `:authority`
 * (RFC 9113 §8.5); an extended CONNECT adds `:protocol`, `:scheme` and `:path` (RFC 8441 §4).
 */
export function requestHeaders (head: RequestHead): OutgoingHttpHeaders {
  const out = stripHopByHop(head.headers)
  const method = head.method.toUpperCase()
  out[HTTP2_HEADER_METHOD] = method
  out[HTTP2_HEADER_AUTHORITY] = head.authority
  if (method === 'CONNECT' && head.protocol === undefined) return out
  if (head.protocol !== undefined) out[HTTP2_HEADER_PROTOCOL] = head.protocol
  out[HTTP2_HEADER_SCHEME] = head.scheme
  out[HTTP2_HEADER_PATH] = head.path === '' ? '/' : head.path
  return out
}

/** The HEADERS of a response: `:status` plus the fields without hop-by-hop ones. */
export function responseHeaders (head: ResponseHead): OutgoingHttpHeaders {
  const out = stripHopByHop(head.headers)
  out[HTTP2_HEADER_STATUS] = head.status
  return out
}

/** Trailers to send: hop-by-hop fields removed (RFC 9113 §8.1). */
export function trailerHeaders (trailers: HeaderMap | undefined): OutgoingHttpHeaders {
  return trailers === undefined ? {} : stripHopByHop(trailers)
}

/** A received header block as a HeaderMap: pseudo-headers and node's symbol keys left out. */
export function toHeaderMap (headers: IncomingHttpHeaders): HeaderMap {
  const out: HeaderMap = {}
  for (const name in headers) {
    const value = headers[name]
    if (value === undefined || name.charCodeAt(0) === 58 /* ':' */) continue
    out[name] = value
  }
  return out
}

/** A received request's HEADERS as a RequestHead (the server side). */
export function toRequestHead (headers: IncomingHttpHeaders): RequestHead {
  const scheme = headers[HTTP2_HEADER_SCHEME] === 'http' ? 'http' : 'https'
  const protocol = headers[HTTP2_HEADER_PROTOCOL]
  const head: RequestHead = {
    method: String(headers[HTTP2_HEADER_METHOD] ?? ''),
    authority: String(headers[HTTP2_HEADER_AUTHORITY] ?? headers.host ?? ''),
    path: String(headers[HTTP2_HEADER_PATH] ?? ''),
    scheme,
    headers: toHeaderMap(headers),
  }
  if (typeof protocol === 'string') head.protocol = protocol
  return head
}

/** A received response's HEADERS as a ResponseHead (the client side). */
export function toResponseHead (headers: IncomingHttpHeaders): ResponseHead {
  return { status: Number(headers[HTTP2_HEADER_STATUS] ?? 0), headers: toHeaderMap(headers) }
}

/** One value of a header (the first, if it repeats). */
export function headerValue (headers: HeaderMap, name: string): string | undefined {
  const value = headers[name]
  return Array.isArray(value) ? value[0] : value
}

/**
 * The size of a header list as SETTINGS_MAX_HEADER_LIST_SIZE counts it: per field, name and
 * value octets plus 32 (RFC 9113 §6.5.2).
 */
export function headerListSize (headers: OutgoingHttpHeaders): number {
  let size = 0
  for (const name in headers) {
    const value = headers[name]
    if (value === undefined) continue
    if (Array.isArray(value)) {
      for (const item of value) size += Buffer.byteLength(name) + Buffer.byteLength(String(item)) + 32
    } else {
      size += Buffer.byteLength(name) + Buffer.byteLength(String(value)) + 32
    }
  }
  return size
}
