/**
 * One request on an h2c (or h2) client session, collected whole: status, head, trailers, body,
 * and the stream's error if it ended in one (it never rejects: a reset is an outcome the tests
 * assert on). `:authority` defaults to the pair's `web.test`; 20 s bound per request.
 */
import http2 from 'node:http2'

export interface H2cReply {
  status: number
  headers: http2.IncomingHttpHeaders
  trailers: http2.IncomingHttpHeaders | undefined
  body: Buffer
  /** The stream's error message when it ended in one (a reset, a timeout). */
  error?: string
}

export async function h2cRequest (session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: Buffer | string): Promise<H2cReply> {
  return await new Promise((resolve) => {
    const stream = session.request({ ':authority': 'web.test', ...headers }, { endStream: body === undefined })
    let status = 0
    let responseHeaders: http2.IncomingHttpHeaders = {}
    let trailers: http2.IncomingHttpHeaders | undefined
    const chunks: Buffer[] = []
    const reply = (error?: string): H2cReply => ({ status, headers: responseHeaders, trailers, body: Buffer.concat(chunks), ...(error === undefined ? {} : { error }) })
    stream.on('response', (h) => { responseHeaders = h; status = Number(h[':status']) })
    stream.on('trailers', (t) => { trailers = t })
    stream.on('data', (c: Buffer) => chunks.push(c))
    stream.on('end', () => resolve(reply()))
    stream.on('error', (err) => resolve(reply(err.message)))
    stream.setTimeout(20_000, () => stream.close(http2.constants.NGHTTP2_CANCEL))
    if (body !== undefined) stream.end(body)
  })
}
