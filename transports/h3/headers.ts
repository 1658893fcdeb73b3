// Header translation between the contract's RequestHead / ResponseHead and HTTP/3 field sections.
import type { QuicHeaders } from '../../native/quic.js'
import type { HeaderMap, RequestHead, ResponseHead } from '../contract.js'
// Connection-specific fields are forbidden in HTTP/3 exactly as in HTTP/2 (RFC 9114 §4.2), so
// the h2 transport's pure HeaderMap filter serves both.
import { headerValue, stripHopByHop } from '../h2/headers.js'

export { headerValue }

/** Copies `headers` without hop-by-hop fields (RFC 9114 §4.2): `te: trailers` alone survives. */
export function endToEnd (headers: HeaderMap | undefined): QuicHeaders {
  if (headers === undefined) return {}
  return stripHopByHop(headers) as QuicHeaders
}

/**
 * The field section of a request (RFC 9114 §4.3.1). A plain CONNECT carries only `:method` and
 * `:authority` (RFC 9114 §4.4); an extended CONNECT adds `:protocol`, `:scheme` and `:path`
 * (RFC 9220 §3, RFC 8441 §4).
 */
export function requestFields (head: RequestHead): QuicHeaders {
  const method = head.method.toUpperCase()
  const pseudo: QuicHeaders = { ':method': method, ':authority': head.authority }
  if (method !== 'CONNECT' || head.protocol !== undefined) {
    if (head.protocol !== undefined) pseudo[':protocol'] = head.protocol
    pseudo[':scheme'] = head.scheme
    pseudo[':path'] = head.path === '' ? '/' : head.path
  }
  return { ...pseudo, ...endToEnd(head.headers) }
}

/** The field section of a response: `:status` plus the fields without hop-by-hop ones. */
export function responseFields (head: ResponseHead): QuicHeaders {
  return { ':status': String(head.status), ...endToEnd(head.headers) }
}

/** A received field section as a HeaderMap: pseudo-headers left out. */
export function toHeaderMap (fields: QuicHeaders | undefined): HeaderMap {
  const out: HeaderMap = {}
  if (fields === undefined) return out
  for (const [name, value] of Object.entries(fields)) {
    if (!name.startsWith(':')) out[name] = value
  }
  return out
}

function pseudo (fields: QuicHeaders, name: string): string | undefined {
  const value = fields[name]
  return Array.isArray(value) ? value[0] : value
}

/** A received request's field section as a RequestHead (the server side). */
export function toRequestHead (fields: QuicHeaders): RequestHead {
  const protocol = pseudo(fields, ':protocol')
  const head: RequestHead = {
    method: pseudo(fields, ':method') ?? '',
    authority: pseudo(fields, ':authority') ?? pseudo(fields, 'host') ?? '',
    path: pseudo(fields, ':path') ?? '',
    scheme: pseudo(fields, ':scheme') === 'http' ? 'http' : 'https',
    headers: toHeaderMap(fields),
  }
  if (protocol !== undefined) head.protocol = protocol
  return head
}

/** A received response's field section as a ResponseHead (the client side). */
export function toResponseHead (fields: QuicHeaders): ResponseHead {
  return { status: Number(pseudo(fields, ':status') ?? 0), headers: toHeaderMap(fields) }
}
