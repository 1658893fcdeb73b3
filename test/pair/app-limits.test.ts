// The outbound listener's limits on slow and hostile app clients (docs/native-http.md §8): the
// header-read timeout (408 E_HEADER_TIMEOUT, then close), max requests per connection (HTTP/1:
// `connection: close` on the last response; h2c: GOAWAY), and the premature-reset rule on app
// h2c sessions (GOAWAY ENHANCE_YOUR_CALM, one E_APP_RAPID_RESET line, no E_INTERNAL). Each case
// checks that another client is still served.
import assert from 'node:assert/strict'
import http from 'node:http'
import http2 from 'node:http2'
import net from 'node:net'
import type { Socket } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { pino } from 'pino'
import { get } from '../helpers/clients.js'
import { startPair, type Pair } from '../helpers/pair.js'
import { DATA_PLANES } from '../helpers/transports.js'

/** A logger that keeps every line (info and up) for the assertions. */
function capture (): { lines: Array<Record<string, unknown>>, logger: pino.Logger } {
  const lines: Array<Record<string, unknown>> = []
  const sink = { write: (line: string) => { lines.push(JSON.parse(line) as Record<string, unknown>) } }
  return { lines, logger: pino({ level: 'info' }, sink) }
}

/** Connects, writes `bytes`, and reads until the server closes (10 s bound); `ms` from connect to close. */
async function rawUntilClose (port: number, bytes: string): Promise<{ data: string, ms: number }> {
  return await new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port })
    const started = performance.now()
    let data = ''
    socket.setTimeout(10_000, () => socket.destroy())
    socket.on('data', (c: Buffer) => { data += c.toString('latin1') })
    socket.on('close', () => resolve({ data, ms: performance.now() - started }))
    socket.on('error', () => {})
    socket.on('connect', () => socket.write(bytes))
  })
}

/** One GET through `agent`; the socket it went on, its status and `connection` header. */
async function getOn (port: number, agent: http.Agent): Promise<{ status: number, connection: string | undefined, socket: Socket }> {
  return await new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', headers: { host: 'web.test' }, agent }, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode ?? 0, connection: res.headers.connection, socket: req.socket as Socket }))
    })
    req.on('error', reject)
    req.setTimeout(10_000, () => req.destroy(new Error('test request timed out')))
  })
}

/** One h2c GET on `client`: the status. */
async function h2cGet (client: http2.ClientHttp2Session): Promise<number> {
  return await new Promise((resolve, reject) => {
    const req = client.request({ ':path': '/', ':authority': 'web.test' })
    let status = 0
    req.on('response', (h) => { status = Number(h[':status']) })
    req.resume()
    req.on('end', () => resolve(status))
    req.on('error', reject)
    req.setTimeout(10_000, () => req.close(http2.constants.NGHTTP2_CANCEL))
  })
}

async function h2cConnect (port: number): Promise<http2.ClientHttp2Session> {
  const client = http2.connect(`http://127.0.0.1:${port}`)
  client.on('error', () => {})
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve())
    client.once('error', reject)
  })
  return client
}

async function closedWithin (session: http2.ClientHttp2Session, ms: number): Promise<boolean> {
  if (session.closed || session.destroyed) return true
  return await new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms)
    session.once('close', () => { clearTimeout(timer); resolve(true) })
  })
}

const HALF_HEAD = 'GET / HTTP/1.1\r\nHost: web.test\r\nx-slow: '

for (const plane of DATA_PLANES) {
  describe(`app-client limits: header-read timeout, max requests per connection (${plane.name} data plane)`, { skip: plane.skip }, () => {
    let pair: Pair
    before(async () => {
      pair = await startPair({ dataPlane: plane.name, outboundExtra: 'timeouts: { headerReadMs: 300ms }\nlimits: { maxRequestsPerConnection: 3 }' })
    })
    after(async () => { await pair?.close() })

    it('a head not complete within headerReadMs gets 408 E_HEADER_TIMEOUT and the connection closes; a request on another connection is served', async () => {
      const slow = rawUntilClose(pair.appPort, HALF_HEAD)
      const other = await get(pair.appPort)
      assert.equal(other.status, 200)
      const { data, ms } = await slow
      assert.match(data, /^HTTP\/1\.1 408 Request Timeout\r\n/)
      assert.match(data, /\r\nmeshgate-error: E_HEADER_TIMEOUT\r\n/i)
      assert.match(data, /\r\nconnection: close\r\n/i)
      // Checked every 30 ms (a tenth of the timeout): not before it, and not much after.
      assert.ok(ms >= 280 && ms < 5000, `closed after ${Math.round(ms)} ms`)
      const text = await pair.client.metrics.registry.metrics()
      assert.match(text, /meshgate_app_sessions_closed_total\{reason="header_timeout"\} [1-9]/)
    })

    it('on keep-alive, a half head after a complete exchange gets the 408 too', async () => {
      const { data } = await rawUntilClose(pair.appPort, 'GET / HTTP/1.1\r\nHost: web.test\r\n\r\n' + HALF_HEAD)
      assert.match(data, /^HTTP\/1\.1 200 /)
      assert.match(data, /HTTP\/1\.1 408 Request Timeout\r\nmeshgate-error: E_HEADER_TIMEOUT\r\n/)
    })

    it('HTTP/1: the 3rd response on a connection says connection: close and the connection closes; the 4th request goes on a new one', async () => {
      const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
      try {
        const replies = []
        for (let i = 0; i < 4; i++) replies.push(await getOn(pair.appPort, agent))
        assert.deepEqual(replies.map((r) => r.status), [200, 200, 200, 200])
        assert.deepEqual(replies.map((r) => r.connection), ['keep-alive', 'keep-alive', 'close', 'keep-alive'])
        const [first, second, third, fourth] = replies.map((r) => r.socket)
        assert.ok(first === second && second === third, 'the first three on one connection')
        assert.notEqual(fourth, third)
        assert.ok(third.destroyed, 'the connection of the 3rd response is closed')
      } finally {
        agent.destroy()
      }
    })

    it('h2c: GOAWAY (NO_ERROR) once the session opened 3 streams; all three are answered, a new session is served', async () => {
      const client = await h2cConnect(pair.appPort)
      const goaways: number[] = []
      client.on('goaway', (code) => { goaways.push(code) })
      try {
        const statuses = []
        for (let i = 0; i < 3; i++) statuses.push(await h2cGet(client))
        assert.deepEqual(statuses, [200, 200, 200])
        assert.ok(await closedWithin(client, 5000), 'the session closed')
        assert.deepEqual(goaways, [http2.constants.NGHTTP2_NO_ERROR])
      } finally {
        client.destroy()
      }
      const fresh = await h2cConnect(pair.appPort)
      try {
        assert.equal(await h2cGet(fresh), 200)
      } finally {
        fresh.destroy()
      }
    })
  })

  describe(`app-client limits: premature-reset rule on app h2c sessions (${plane.name} data plane)`, { skip: plane.skip }, () => {
    let pair: Pair
    const log = capture()
    before(async () => { pair = await startPair({ dataPlane: plane.name, outboundExtra: 'log: { level: info }', clientLogger: log.logger }) })
    after(async () => { await pair?.close() })

    it('600 streams reset right after opening: GOAWAY(ENHANCE_YOUR_CALM), one E_APP_RAPID_RESET line, no E_INTERNAL; another client is served', async () => {
      const client = await h2cConnect(pair.appPort)
      let goaway: number | undefined
      client.on('goaway', (code) => { goaway ??= code })
      let opened = 0
      try {
        // Bounded: 600 streams at most, stopped as soon as the session goes away.
        for (; opened < 600 && !client.closed && !client.destroyed; opened++) {
          if (goaway !== undefined) break
          const stream = client.request({ ':path': '/', ':authority': 'web.test' })
          stream.on('error', () => {})
          stream.close(http2.constants.NGHTTP2_CANCEL)
        }
        assert.ok(await closedWithin(client, 5000), 'the session closed')
        assert.equal(goaway, http2.constants.NGHTTP2_ENHANCE_YOUR_CALM)
      } finally {
        client.destroy()
      }
      assert.ok(opened >= 500, `opened ${opened} streams`)
      const other = await h2cConnect(pair.appPort)
      try {
        assert.equal(await h2cGet(other), 200)
      } finally {
        other.destroy()
      }
      const rapid = log.lines.filter((l) => l.code === 'E_APP_RAPID_RESET')
      assert.equal(rapid.length, 1, 'one line for the closed session')
      assert.equal(rapid[0].level, 40)
      assert.match(String(rapid[0].reason), /^premature resets: \d+ of \d+ streams reset by the client within 1000 ms of opening$/)
      assert.deepEqual(log.lines.filter((l) => l.code === 'E_INTERNAL'), [])
      // No line per reset stream, at any level the logger keeps.
      assert.ok(log.lines.filter((l) => l.level as number >= 30 && l.code !== undefined).length <= 1, JSON.stringify(log.lines.slice(-5)))
      const text = await pair.client.metrics.registry.metrics()
      assert.match(text, /meshgate_app_sessions_closed_total\{reason="rapid_reset"\} 1\n/)
      const resets = Number(/meshgate_app_stream_resets_total (\d+)/.exec(text)?.[1])
      assert.ok(resets >= 250, `${resets} resets counted`)
    })

    it('a client that opens 600 streams and lets them finish is not closed', async () => {
      const client = await h2cConnect(pair.appPort)
      let goaway = false
      client.on('goaway', () => { goaway = true })
      try {
        const statuses: number[] = []
        for (let batch = 0; batch < 6; batch++) statuses.push(...await Promise.all(Array.from({ length: 100 }, async () => await h2cGet(client))))
        assert.equal(statuses.filter((s) => s === 200).length, 600)
        assert.equal(goaway, false)
        assert.equal(client.closed || client.destroyed, false)
      } finally {
        client.destroy()
      }
    })
  })
}
