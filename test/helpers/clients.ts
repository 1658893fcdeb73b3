/**
 * The small clients pair tests talk through: one GET on a fresh connection (status, meshgate
 * error code, body, time taken) and one TCP round trip. Each is bounded in time.
 */
import http from 'node:http'
import net from 'node:net'

export interface GetReply {
  status: number
  /** The `meshgate-error` header, when meshgate answered itself. */
  error: string | undefined
  body: string
  /** Wall time from request to end of body, ms. */
  ms: number
}

/** GET `path` on 127.0.0.1:`port` with `Host: host`, no connection reuse; fails after `timeoutMs`. */
export async function get (port: number, path = '/', host = 'web.test', timeoutMs = 30_000): Promise<GetReply> {
  const started = Date.now()
  return await new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { body += c })
      res.on('end', () => resolve({
        status: res.statusCode ?? 0,
        error: res.headers['meshgate-error'] as string | undefined,
        body,
        ms: Date.now() - started,
      }))
    })
    req.on('error', reject)
    req.setTimeout(timeoutMs, () => req.destroy(new Error('test request timed out')))
  })
}

/** Connects to a tcp listener, sends `input` with a FIN and returns what came back before the close (10 s bound). */
export async function tcpRoundTrip (port: number, input = 'ping'): Promise<string> {
  return await new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true })
    let data = ''
    socket.setTimeout(10_000, () => socket.destroy())
    socket.on('data', (c: Buffer) => { data += c.toString() })
    socket.on('close', () => resolve(data))
    socket.on('error', () => {})
    socket.on('connect', () => socket.end(input))
  })
}
