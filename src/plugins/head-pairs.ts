/**
 * An HTTP head as the plugins see it (pseudo-headers `:method`, `:path`, `:authority`, `:scheme`
 * or `:status` first, as Envoy hands them over) and back.
 */
import type { IncomingHttpHeaders } from 'node:http'
import type { HeaderMap } from '../../transports/contract.js'
import type { HeaderPairs } from './header-pairs.js'

export interface RequestLine {
  method: string
  path: string
  authority: string
  scheme: string
}

function appendHeaders (pairs: HeaderPairs, headers: IncomingHttpHeaders | HeaderMap): HeaderPairs {
  for (const name in headers) {
    if (name.startsWith(':')) continue
    const value = headers[name]
    if (value === undefined) continue
    if (Array.isArray(value)) for (const v of value) pairs.push([name, v])
    else pairs.push([name, String(value)])
  }
  return pairs
}

export function requestPairs (line: RequestLine, headers: IncomingHttpHeaders | HeaderMap): HeaderPairs {
  return appendHeaders([[':method', line.method], [':path', line.path], [':authority', line.authority], [':scheme', line.scheme]], headers)
}

export function responsePairs (status: number, headers: IncomingHttpHeaders | HeaderMap): HeaderPairs {
  return appendHeaders([[':status', String(status)]], headers)
}

/** Regular headers of `pairs` as a map (repeated names become lists); pseudo-headers apart. */
export function splitPairs (pairs: HeaderPairs): { pseudo: Record<string, string>, headers: HeaderMap } {
  const pseudo: Record<string, string> = {}
  const headers: HeaderMap = {}
  for (const [name, value] of pairs) {
    if (name.startsWith(':')) {
      pseudo[name] = value
      continue
    }
    const had = headers[name]
    if (had === undefined) headers[name] = value
    else if (Array.isArray(had)) had.push(value)
    else headers[name] = [had, value]
  }
  return { pseudo, headers }
}

/** The request line after the plugins: a pseudo-header they removed keeps its old value. */
export function requestLineOf (pseudo: Record<string, string>, before: RequestLine): RequestLine {
  return {
    method: pseudo[':method'] ?? before.method,
    path: pseudo[':path'] ?? before.path,
    authority: pseudo[':authority'] ?? before.authority,
    scheme: pseudo[':scheme'] ?? before.scheme,
  }
}

/** The status after the plugins; an unusable `:status` keeps the old one. */
export function statusOf (pseudo: Record<string, string>, before: number): number {
  const status = Number(pseudo[':status'])
  return Number.isInteger(status) && status >= 100 && status <= 599 ? status : before
}
