/**
 * Shared set-up of the addon tests: whether the addon is built (tests skip with the reason when
 * not), a server on 127.0.0.1:0 with an echo/handler, and a client session to it.
 */
import { quicAvailable, QUIC_INSTALL_HINT } from '../../native/index.js'
import { connect, createServer, type QuicServer, type QuicSession, type QuicStream, type QuicHeaders } from '../../native/quic.js'
import type { TlsMaterial } from '../../transports/contract.js'

/** `false` when the addon loads, else the reason to give `test(…, { skip })`. */
export const SKIP: string | false = quicAvailable()
  ? false
  : `QUIC addon not built (${QUIC_INSTALL_HINT})`

export type Handler = (stream: QuicStream, headers: QuicHeaders | undefined, session: QuicSession) => void

export async function startServer (tls: TlsMaterial, handler: Handler, extra: Record<string, unknown> = {}): Promise<QuicServer> {
  return await createServer({
    ...tls,
    host: '127.0.0.1',
    port: 0,
    ...extra,
    onSession: (session) => {
      session.on('stream', (stream: QuicStream, headers: QuicHeaders | undefined) => {
        // A client reset is routine for a server; the tests assert on the client side.
        stream.on('error', () => {})
        handler(stream, headers, session)
      })
    },
  })
}

export async function connectTo (server: QuicServer, tls: TlsMaterial, extra: Record<string, unknown> = {}): Promise<QuicSession> {
  return await connect({ ...tls, host: '127.0.0.1', port: server.address().port, ...extra })
}

/** Pipes the request body back as the response body, with the request's content-type. */
export const echo: Handler = (stream) => {
  stream.respond({ ':status': '200' })
  stream.pipe(stream)
}

/**
 * The readable side to its end. Events, not `for await`: the async iterator destroys the whole
 * Duplex when it finishes, which would reset our still-open writable side.
 */
export async function readAll (stream: QuicStream): Promise<Buffer> {
  return await new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    stream.on('data', (chunk: Buffer) => chunks.push(chunk))
    stream.once('end', () => resolve(Buffer.concat(chunks)))
    stream.once('error', reject)
  })
}

export function get (path: string, method = 'GET'): QuicHeaders {
  return { ':method': method, ':scheme': 'https', ':authority': 'echo.test', ':path': path }
}
