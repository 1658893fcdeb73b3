/**
 * The rescue at the edge: turns any failure into the HTTP answer a client gets from meshgate
 * (status from the error code, the `meshgate-error` header, a one-line text body), or into a
 * reset when the response had already started.
 */
import type { ServerResponse } from 'node:http'
import type { Http2ServerResponse } from 'node:http2'
import { ERROR_HEADER, type MeshError } from '../../core/errors.js'

export type AnyServerResponse = ServerResponse | Http2ServerResponse

/** The text body meshgate sends with an error status. */
export function errorBody (err: MeshError): string {
  return `${err.code}: ${err.message}\n`
}

/** Answers `res` with the error, or destroys it if the head went out already. */
export function rescueResponse (res: AnyServerResponse, err: MeshError): void {
  if (res.headersSent) {
    res.destroy(err)
    return
  }
  const body = errorBody(err)
  try {
    res.writeHead(err.status, {
      [ERROR_HEADER]: err.code,
      'content-type': 'text/plain; charset=utf-8',
      'content-length': Buffer.byteLength(body),
    })
    res.end(body)
  } catch {
    res.destroy(err)
  }
}

/** The raw HTTP/1 bytes of an error answer, for sockets that have no response object. */
export function rawErrorResponse (err: MeshError, reason: string): string {
  const body = errorBody(err)
  return `HTTP/1.1 ${err.status} ${reason}\r\n${ERROR_HEADER}: ${err.code}\r\ncontent-type: text/plain; charset=utf-8\r\n` +
    `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`
}
