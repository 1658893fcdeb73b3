/**
 * Raw header pairs (as a parser saw them) into the object node:http would have made of them
 * (`IncomingMessage.headers`): lower-case names; repeats of a field that allows one value keep the
 * first; `set-cookie` an array; `cookie` joined with `; `; any other repeat joined with `, `. The
 * native HTTP/1 front uses it so that both data paths route and forward the same headers.
 */
import type { IncomingHttpHeaders } from 'node:http'

/** Fields node keeps only the first of (node's lib/_http_incoming.js matchKnownFields). */
const SINGLE: ReadonlySet<string> = new Set([
  'content-type', 'content-length', 'user-agent', 'referer', 'host', 'authorization',
  'proxy-authorization', 'if-modified-since', 'if-unmodified-since', 'from', 'location',
  'max-forwards', 'retry-after', 'etag', 'last-modified', 'server', 'age', 'expires',
])

export function headersFromRaw (raw: readonly string[]): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {}
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase()
    const value = raw[i + 1] as string
    const seen = out[name]
    if (seen === undefined) {
      out[name] = name === 'set-cookie' ? [value] : value
    } else if (name === 'set-cookie') {
      (seen as string[]).push(value)
    } else if (!SINGLE.has(name)) {
      out[name] = `${seen as string}${name === 'cookie' ? '; ' : ', '}${value}`
    }
  }
  return out
}
