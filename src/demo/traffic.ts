/**
 * Demo traffic: a steady trickle of requests through an outbound listener so a new user's
 * dashboard shows live charts. Mixes HTTP/1 and h2c GETs, an occasional error status and an
 * occasional TCP echo. Loopback only; stops with the proxy.
 */
import http from 'node:http'
import http2 from 'node:http2'
import net from 'node:net'

export interface DemoTrafficOptions {
  /** The outbound listener to talk to (a wildcard host is reached on loopback). */
  listener: { host: string, port: number }
  /** A tcp listener for the occasional echo, if the config has one. */
  tcpListener?: { host: string, port: number }
  authority: string
  /** Requests per second (> 0). */
  perSecond: number
}

export interface DemoTraffic { stop: () => void }

function loopback (host: string): string {
  return host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '::1' : host
}

export function startDemoTraffic (options: DemoTrafficOptions): DemoTraffic {
  const host = loopback(options.listener.host)
  const { port } = options.listener
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 })
  let h2: http2.ClientHttp2Session | undefined
  let tick = 0
  const h2session = (): http2.ClientHttp2Session => {
    if (h2 === undefined || h2.closed || h2.destroyed) {
      h2 = http2.connect(`http://${host.includes(':') ? `[${host}]` : host}:${port}`)
      h2.on('error', () => {})
    }
    return h2
  }
  const send = (): void => {
    const n = tick++
    const path = n % 17 === 0 ? '/status/503' : n % 11 === 0 ? '/status/404' : n % 5 === 0 ? '/delay/25' : `/demo/${n % 7}`
    if (n % 2 === 0) {
      http.get({ host, port, path, agent, headers: { host: options.authority }, timeout: 5000 }, (res) => res.resume())
        .on('error', () => {})
        .on('timeout', function (this: http.ClientRequest) { this.destroy() })
    } else {
      const stream = h2session().request({ ':path': path, ':authority': options.authority })
      stream.on('error', () => {})
      stream.setTimeout(5000, () => stream.close(http2.constants.NGHTTP2_CANCEL))
      stream.resume()
    }
    if (options.tcpListener !== undefined && n % 20 === 0) {
      const socket = net.connect({ host: loopback(options.tcpListener.host), port: options.tcpListener.port, allowHalfOpen: true }, () => socket.end('hello from the meshgate demo\n'))
      socket.setTimeout(5000, () => socket.destroy())
      socket.on('error', () => {})
      socket.resume()
    }
  }
  const timer = setInterval(send, Math.max(10, Math.round(1000 / options.perSecond)))
  timer.unref()
  return {
    stop: () => {
      clearInterval(timer)
      agent.destroy()
      h2?.destroy()
    },
  }
}
