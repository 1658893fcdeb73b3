/**
 * The native h2 engine's safety limits, from the wire: the premature-reset rule against rapid
 * reset (CVE-2023-44487), the header-list limit (431 + E_HEADERS_TOO_LARGE), the concurrent-stream
 * limit, sessions killed mid-stream from either end, and CONNECT streams that fail before their
 * splice starts. Each case ends with a fresh session that must still be served.
 */
import assert from 'node:assert/strict'
import { constants as h2 } from 'node:http2'
import { createServer, type AddressInfo, type Server } from 'node:net'
import { Readable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { toMeshError } from '../../core/errors.js'
import type { InboundExchange, TlsMaterial } from '../../transports/contract.js'
import { makePki, type TestPki } from '../helpers/pki.js'
import { nativeSkip } from '../helpers/transports.js'
import { answerOk, eventually, http2Client, settleWithin, startEngineRig, type EngineRig, type TestHttp2Client } from './engine-rig.js'
import { connectBlock, connectRaw, FLAG, frame, FRAME, H2_ERROR, ping, requestHeaders, rstStream } from './h2-wire.js'

const SKIP = nativeSkip()

let pki: TestPki
let clientTls: TlsMaterial

before(async () => {
  if (SKIP !== false) return
  pki = await makePki()
  clientTls = await pki.workload('client')
})

/** Reads a node:http2 response: status, headers and body length. */
async function fetchHttp2 (client: TestHttp2Client, headers: Record<string, string | string[]>, body?: Buffer): Promise<{ status: number, headers: Record<string, unknown>, length: number }> {
  const req = client.request({ ':method': body === undefined ? 'GET' : 'POST', ':path': '/', ...headers }, { endStream: body === undefined })
  if (body !== undefined) req.end(body)
  return await new Promise((resolve, reject) => {
    let head: Record<string, unknown> = {}
    let length = 0
    req.on('response', (h) => { head = h })
    req.on('data', (c: Buffer) => { length += c.length })
    req.on('end', () => resolve({ status: Number(head[':status']), headers: head, length }))
    req.on('error', reject)
  })
}

describe('premature-reset rule (rapid reset, CVE-2023-44487)', { skip: SKIP, timeout: 30_000 }, () => {
  let rig: EngineRig
  before(async () => { rig = await startEngineRig(pki) })
  after(async () => { await rig?.stop() })

  it('600 streams reset right after opening: GOAWAY(ENHANCE_YOUR_CALM), the session closes, a warn E_PEER_RAPID_RESET', async () => {
    const raw = await connectRaw(rig.port, clientTls)
    const burst: Buffer[] = []
    for (let i = 0; i < 600; i++) burst.push(requestHeaders(2 * i + 1, false), rstStream(2 * i + 1, H2_ERROR.cancel))
    raw.send(Buffer.concat(burst))
    const goaway = await raw.waitFor((f) => f.type === FRAME.goaway, 5000)
    assert.ok(goaway !== undefined, 'the server sent GOAWAY')
    assert.equal(goaway.payload.readUInt32BE(4), H2_ERROR.enhanceYourCalm)
    await settleWithin(raw.closed, 5000)
    assert.ok(raw.isClosed(), 'the server closed the connection')
    await eventually(() => rig.logs.some((e) => e.level === 'warn' && e.obj.code === 'E_PEER_RAPID_RESET'), 2000, 'the E_PEER_RAPID_RESET warning')
    const warn = rig.logs.find((e) => e.obj.code === 'E_PEER_RAPID_RESET')
    assert.match(String(warn?.obj.reason), /^premature resets: \d+ of \d+ streams/)
    assert.equal(warn?.obj.caller, pki.id('client'))
    await rig.healthCheck()
  })

  it('a client that opens 600 streams normally is not closed', async () => {
    const client = await http2Client(rig.port, clientTls)
    let goaway = false
    client.on('goaway', () => { goaway = true })
    try {
      const responses = await Promise.all(Array.from({ length: 600 }, async () => await fetchHttp2(client, { ':authority': 'svc' })))
      assert.ok(responses.every((r) => r.status === 200 && r.length === 3))
      assert.equal((await fetchHttp2(client, { ':authority': 'svc' })).status, 200)
      assert.equal(goaway, false)
      assert.equal(client.closed || client.destroyed, false)
    } finally {
      client.destroy()
    }
  })

  it('600 uploads reset after their whole answer came (a caller dropping the rest of its body) are not premature', async () => {
    const raw = await connectRaw(rig.port, clientTls)
    const open: Buffer[] = []
    for (let i = 0; i < 600; i++) open.push(requestHeaders(2 * i + 1, false, 'POST'))
    raw.send(Buffer.concat(open))
    // Every answer ends its stream (END_STREAM on its last DATA) while the uploads are still open.
    await eventually(() => raw.frames.filter((f) => f.type === FRAME.data && (f.flags & FLAG.endStream) !== 0).length >= 600, 10_000, '600 whole answers')
    const resets: Buffer[] = []
    for (let i = 0; i < 600; i++) resets.push(rstStream(2 * i + 1, H2_ERROR.noError))
    raw.send(Buffer.concat(resets))
    raw.send(ping(0, Buffer.from('stillup!')))
    const ack = await raw.waitFor((f) => f.type === FRAME.ping && (f.flags & FLAG.ack) !== 0 && f.payload.toString() === 'stillup!', 3000)
    assert.ok(ack !== undefined, 'the session still answers PING')
    assert.equal(raw.goawayCode(), undefined)
    raw.destroy()
  })

  it('600 streams of which a third are reset at once: under half, so the session stays', async () => {
    const raw = await connectRaw(rig.port, clientTls)
    const burst: Buffer[] = []
    for (let i = 0; i < 600; i++) {
      burst.push(requestHeaders(2 * i + 1, true))
      if (i % 3 === 0) burst.push(rstStream(2 * i + 1, H2_ERROR.cancel))
    }
    raw.send(Buffer.concat(burst))
    await eventually(() => raw.frames.filter((f) => f.type === FRAME.headers).length >= 399, 5000, '400 responses')
    raw.send(ping(0, Buffer.from('stillup!')))
    const ack = await raw.waitFor((f) => f.type === FRAME.ping && (f.flags & FLAG.ack) !== 0 && f.payload.toString() === 'stillup!', 3000)
    assert.ok(ack !== undefined, 'the session still answers PING')
    assert.equal(raw.goawayCode(), undefined)
    raw.destroy()
  })
})

describe('flood rules: empty frames in a row, control frames faster than their acks', { skip: SKIP, timeout: 30_000 }, () => {
  let rig: EngineRig
  before(async () => { rig = await startEngineRig(pki) })
  after(async () => { await rig?.stop() })

  it('two empty DATA frames in a row: GOAWAY(ENHANCE_YOUR_CALM) and a warn E_PEER_FLOOD', async () => {
    const raw = await connectRaw(rig.port, clientTls)
    raw.send(Buffer.concat([requestHeaders(1, false, 'POST'), frame(FRAME.data, 0, 1), frame(FRAME.data, 0, 1)]))
    const goaway = await raw.waitFor((f) => f.type === FRAME.goaway, 3000)
    assert.equal(goaway?.payload.readUInt32BE(4), H2_ERROR.enhanceYourCalm)
    await eventually(() => rig.logs.some((e) => e.level === 'warn' && e.obj.code === 'E_PEER_FLOOD'), 2000, 'the E_PEER_FLOOD warning')
    raw.destroy()
    await rig.healthCheck()
  })

  it('5000 PINGs in one write (more acks queued than max_outbound_ack): GOAWAY(ENHANCE_YOUR_CALM) and a warn E_PEER_FLOOD', async () => {
    const before = rig.logs.filter((e) => e.obj.code === 'E_PEER_FLOOD').length
    const raw = await connectRaw(rig.port, clientTls)
    raw.send(Buffer.concat(Array.from({ length: 5000 }, () => ping())))
    const goaway = await raw.waitFor((f) => f.type === FRAME.goaway, 3000)
    assert.equal(goaway?.payload.readUInt32BE(4), H2_ERROR.enhanceYourCalm)
    await eventually(() => rig.logs.filter((e) => e.level === 'warn' && e.obj.code === 'E_PEER_FLOOD').length > before, 2000, 'the E_PEER_FLOOD warning')
    raw.destroy()
    await rig.healthCheck()
  })

  it('empty DATA frames apart, with request HEADERS between them, are not a flood', async () => {
    const raw = await connectRaw(rig.port, clientTls)
    try {
      raw.send(Buffer.concat([
        requestHeaders(1, false, 'POST'), frame(FRAME.data, 0, 1),
        requestHeaders(3, true), requestHeaders(5, false, 'POST'), frame(FRAME.data, 0, 5),
        frame(FRAME.data, FLAG.endStream, 1), frame(FRAME.data, FLAG.endStream, 5),
        ping(0, Buffer.from('no flood')),
      ]))
      assert.ok(await raw.waitFor((f) => f.type === FRAME.ping && f.payload.toString() === 'no flood', 3000), 'PING answered')
      await eventually(() => raw.frames.filter((f) => f.type === FRAME.headers).length === 3, 3000, 'three responses')
      assert.equal(raw.goawayCode(), undefined)
    } finally {
      raw.destroy()
    }
  })
})

describe('header list limit (maxHeaderListBytes)', { skip: SKIP, timeout: 30_000 }, () => {
  /** Echoes the request body's length once it has ended. */
  const echoLength = (exchange: InboundExchange): void => {
    let n = 0
    exchange.body.on('error', () => {})
    exchange.body.on('data', (c: Buffer) => { n += c.length })
    exchange.body.on('end', () => exchange.respond({ status: 200, headers: { 'x-length': String(n) } }, null))
  }

  async function checkLimit (rig: EngineRig, oversized: Record<string, string | string[]>, fitting: Record<string, string | string[]>): Promise<void> {
    rig.handler = echoLength
    const client = await http2Client(rig.port, clientTls)
    try {
      // A request whose body is still coming, on the same session, across the refused one.
      const open = client.request({ ':method': 'POST', ':path': '/slow', ':authority': 'svc' })
      open.write(Buffer.alloc(1000, 1))
      const openDone = new Promise<Record<string, unknown>>((resolve, reject) => {
        open.on('response', resolve)
        open.on('error', reject)
      })
      open.resume()
      const refused = await fetchHttp2(client, { ':authority': 'svc', ...oversized })
      assert.equal(refused.status, 431)
      assert.equal(refused.headers['meshgate-error'], 'E_HEADERS_TOO_LARGE')
      const fits = await fetchHttp2(client, { ':authority': 'svc', ...fitting }, Buffer.alloc(10))
      assert.equal(fits.status, 200)
      assert.equal(fits.headers['x-length'], '10')
      open.end(Buffer.alloc(500, 2))
      const head = await openDone
      assert.equal(head[':status'], 200)
      assert.equal(head['x-length'], '1500')
      assert.equal(client.destroyed, false)
    } finally {
      client.destroy()
    }
    await rig.healthCheck()
  }

  it('the default 64 KiB: an 80 KB header list is answered 431 E_HEADERS_TOO_LARGE, other streams go on', async () => {
    const rig = await startEngineRig(pki)
    try {
      // 40 copies of one 2 KB field: 80 KB as a header list, a few KB on the wire (HPACK indexes it).
      await checkLimit(rig, { 'x-pad': Array.from({ length: 40 }, () => 'a'.repeat(2000)) }, { 'x-pad': Array.from({ length: 25 }, () => 'a'.repeat(2000)) })
    } finally {
      await rig.stop()
    }
  })

  it('maxHeaderListBytes: 4096: a 5 KB header is refused, a 3 KB one passes', async () => {
    const rig = await startEngineRig(pki, { maxHeaderListBytes: 4096 })
    try {
      await checkLimit(rig, { 'x-big': 'b'.repeat(5000) }, { 'x-big': 'b'.repeat(3000) })
    } finally {
      await rig.stop()
    }
  })
})

describe('concurrent stream limit (maxConcurrentStreams: 5)', { skip: SKIP, timeout: 30_000 }, () => {
  let rig: EngineRig
  let inFlight = 0
  let maxInFlight = 0
  let held: Array<() => void> = []
  before(async () => {
    rig = await startEngineRig(pki, { maxConcurrentStreams: 5 })
  })
  after(async () => { await rig?.stop() })

  /** Holds every response until release(); counts the streams open at the server. */
  const holding = (exchange: InboundExchange): void => {
    inFlight++
    maxInFlight = Math.max(maxInFlight, inFlight)
    exchange.body.on('error', () => {})
    exchange.body.resume()
    held.push(() => {
      inFlight--
      answerOk(exchange)
    })
  }
  const release = (): void => {
    const now = held
    held = []
    for (const f of now) f()
  }

  it('node:http2 queues a 6th request behind the 5 open ones; all complete and the session survives', async () => {
    inFlight = 0
    maxInFlight = 0
    rig.handler = holding
    const client = await http2Client(rig.port, clientTls)
    try {
      assert.equal(client.remoteSettings.maxConcurrentStreams, 5)
      const all = Promise.all(Array.from({ length: 6 }, async () => await fetchHttp2(client, { ':authority': 'svc' })))
      await eventually(() => held.length === 5, 3000, '5 streams at the server')
      await new Promise((resolve) => setTimeout(resolve, 100))
      assert.equal(held.length, 5, 'the 6th is not at the server while 5 are open')
      release()
      await eventually(() => held.length === 1, 3000, 'the 6th stream')
      release()
      const responses = await all
      assert.deepEqual(responses.map((r) => r.status), [200, 200, 200, 200, 200, 200])
      assert.equal(maxInFlight, 5)
      rig.handler = answerOk
      assert.equal((await fetchHttp2(client, { ':authority': 'svc' })).status, 200)
      assert.equal(client.destroyed, false)
    } finally {
      rig.handler = answerOk
      release()
      client.destroy()
    }
    await rig.healthCheck()
  })

  it('a raw client that opens 6 streams at once gets REFUSED_STREAM for the 6th; the session survives', async () => {
    inFlight = 0
    rig.handler = holding
    // Before its SETTINGS are acknowledged, nghttp2 refuses streams over the advertised limit
    // with REFUSED_STREAM (RFC 9113 §5.1.2); this client never acknowledges them.
    const raw = await connectRaw(rig.port, clientTls)
    try {
      raw.send(Buffer.concat(Array.from({ length: 6 }, (_, i) => requestHeaders(2 * i + 1, false))))
      const refused = await raw.waitFor((f) => f.type === FRAME.rstStream, 3000)
      assert.ok(refused !== undefined, 'a stream was reset')
      assert.equal(refused.streamId, 11)
      assert.equal(refused.payload.readUInt32BE(0), H2_ERROR.refusedStream)
      await eventually(() => held.length === 5, 3000, '5 streams at the server')
      raw.send(ping(0, Buffer.from('survived')))
      assert.ok(await raw.waitFor((f) => f.type === FRAME.ping && f.payload.toString() === 'survived', 3000), 'PING answered')
      assert.equal(raw.goawayCode(), undefined)
    } finally {
      rig.handler = answerOk
      release()
      raw.destroy()
    }
    await rig.healthCheck()
  })
})

describe('sessions killed mid-stream', { skip: SKIP, timeout: 60_000 }, () => {
  const TEN_MB = 10 * 1024 * 1024

  it('the client socket destroyed while a 10 MB request body is in flight', async () => {
    const rig = await startEngineRig(pki)
    let received = 0
    let aborted: unknown
    rig.handler = (exchange) => {
      exchange.signal.addEventListener('abort', () => { aborted = exchange.signal.reason })
      exchange.body.on('error', () => {})
      exchange.body.on('data', (c: Buffer) => { received += c.length })
    }
    try {
      const client = await http2Client(rig.port, clientTls)
      const req = client.request({ ':method': 'POST', ':path': '/upload', ':authority': 'svc' })
      req.on('error', () => {})
      req.end(Buffer.alloc(TEN_MB, 7))
      await eventually(() => received >= 1024 * 1024, 10_000, '1 MB at the server')
      client.tlsSocket.destroy()
      await eventually(() => aborted !== undefined, 5000, 'the exchange to be aborted')
      assert.ok(received < TEN_MB, `only part of the body arrived (${received} bytes)`)
      await rig.healthCheck()
    } finally {
      await rig.stop()
    }
  })

  it('the client socket destroyed while a 10 MB response body is in flight', async () => {
    const rig = await startEngineRig(pki)
    let bodyClosed = false
    rig.handler = (exchange) => {
      exchange.body.resume()
      let left = TEN_MB
      const body = new Readable({
        read () {
          const n = Math.min(left, 64 * 1024)
          left -= n
          this.push(n === 0 ? null : Buffer.alloc(n, 3))
        },
      })
      body.on('close', () => { bodyClosed = true })
      exchange.respond({ status: 200, headers: {} }, body)
    }
    try {
      const client = await http2Client(rig.port, clientTls)
      const req = client.request({ ':path': '/download', ':authority': 'svc' })
      req.on('error', () => {})
      let got = 0
      await new Promise<void>((resolve) => req.on('data', (c: Buffer) => {
        got += c.length
        if (got >= 1024 * 1024) resolve()
      }))
      client.tlsSocket.destroy()
      await eventually(() => bodyClosed, 5000, 'the response body to be closed')
      await rig.healthCheck()
    } finally {
      await rig.stop()
    }
  })

  it('a native client session destroyed while its 10 MB request body is being sent', async () => {
    const rig = await startEngineRig(pki)
    let received = 0
    rig.handler = (exchange) => {
      exchange.body.on('error', () => {})
      exchange.body.on('data', (c: Buffer) => { received += c.length })
    }
    try {
      const session = await rig.transport().connect({
        address: rig.listener.address(), expectedIdentity: pki.id('server'), tls: clientTls, connectTimeoutMs: 3000,
      })
      let left = TEN_MB
      const body = new Readable({
        read () {
          const n = Math.min(left, 64 * 1024)
          left -= n
          this.push(n === 0 ? null : Buffer.alloc(n, 5))
        },
      })
      const response = session.request({ method: 'POST', authority: 'svc', path: '/upload', scheme: 'http', headers: {} }, body)
      response.catch(() => {})
      await eventually(() => received >= 1024 * 1024, 10_000, '1 MB at the server')
      session.destroy()
      await assert.rejects(response)
      await rig.healthCheck()
    } finally {
      await rig.stop()
    }
  })

  it('listener destroy() with streams open both ways; then a new listener serves a new session', async () => {
    const rig = await startEngineRig(pki)
    let opened = 0
    rig.handler = (exchange) => {
      opened++
      exchange.body.on('error', () => {})
      exchange.body.resume()
      if (exchange.head.path === '/download') {
        // A response that never ends: the stream is open when the listener goes.
        const body = new Readable({ read () { setTimeout(() => this.push(Buffer.alloc(16 * 1024, 1)), 5) } })
        exchange.respond({ status: 200, headers: {} }, body)
      }
      // '/held' gets no answer at all.
    }
    const session = await rig.transport().connect({
      address: rig.listener.address(), expectedIdentity: pki.id('server'), tls: clientTls, connectTimeoutMs: 3000,
    })
    const raw = await connectRaw(rig.port, clientTls)
    const upload = new Readable({ read () { setTimeout(() => this.push(Buffer.alloc(16 * 1024, 2)), 5) } })
    const held = session.request({ method: 'GET', authority: 'svc', path: '/held', scheme: 'http', headers: {} }, null)
    const uploading = session.request({ method: 'POST', authority: 'svc', path: '/upload', scheme: 'http', headers: {} }, upload)
    const download = await session.request({ method: 'GET', authority: 'svc', path: '/download', scheme: 'http', headers: {} }, null)
    held.catch(() => {})
    uploading.catch(() => {})
    const downloadEnded = new Promise<string>((resolve) => {
      download.body.on('error', (err) => resolve(`error: ${err.message}`))
      download.body.on('end', () => resolve('end'))
      download.body.resume()
    })
    raw.send(Buffer.concat([requestHeaders(1, false, 'POST'), requestHeaders(3, false)]))
    await eventually(() => opened >= 5, 3000, 'five streams at the server')
    rig.listener.destroy()
    await assert.rejects(held)
    await assert.rejects(uploading)
    assert.match(await downloadEnded, /^error/, 'the unfinished download is an error, never a clean end')
    await settleWithin(raw.closed, 3000)
    assert.ok(raw.isClosed(), 'the raw session was closed')
    rig.listener.destroy() // safe twice
    session.destroy()

    const next = await startEngineRig(pki)
    try {
      await next.healthCheck()
    } finally {
      await next.stop()
    }
  })
})

describe('CONNECT streams spliced by the engine', { skip: SKIP, timeout: 30_000 }, () => {
  let rig: EngineRig
  let target: Server
  let rejectThrew: unknown
  before(async () => {
    rig = await startEngineRig(pki)
    target = createServer((socket) => socket.pipe(socket))
    await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve))
    // What src/inbound/role.ts does: splice, and answer a failure with the error's status.
    rig.tunnelHandler = (tunnel) => {
      const [host = '', port = ''] = tunnel.head.authority.split(':')
      tunnel.spliceTo?.(host, Number(port), 500, 2000).catch((err: unknown) => {
        try {
          tunnel.reject(toMeshError(err))
        } catch (thrown) {
          rejectThrew = thrown
        }
      })
    }
  })
  after(async () => {
    await rig?.stop()
    target?.close()
  })

  it('a CONNECT reset in the write that opened it: the caller can still reject() it, the session survives', async () => {
    rejectThrew = undefined
    const raw = await connectRaw(rig.port, clientTls)
    try {
      const authority = `127.0.0.1:${(target.address() as AddressInfo).port}`
      raw.send(Buffer.concat([frame(FRAME.headers, FLAG.endHeaders, 1, connectBlock(authority)), rstStream(1, H2_ERROR.cancel)]))
      raw.send(ping(0, Buffer.from('after rs')))
      assert.ok(await raw.waitFor((f) => f.type === FRAME.ping && f.payload.toString() === 'after rs', 3000), 'PING answered')
      await new Promise((resolve) => setTimeout(resolve, 50))
      assert.equal(rejectThrew, undefined, 'reject() did not throw (in src/inbound/role.ts that is an unhandled rejection: the process exits)')
      assert.equal(raw.goawayCode(), undefined)
    } finally {
      raw.destroy()
    }
    await rig.healthCheck()
  })

  it('a target the kernel refuses at once (255.255.255.255) is answered as unreachable', async () => {
    const client = await http2Client(rig.port, clientTls)
    try {
      const req = client.request({ ':method': 'CONNECT', ':authority': '255.255.255.255:80' })
      req.on('error', () => {})
      const head = await new Promise<Record<string, unknown>>((resolve) => req.once('response', resolve))
      assert.equal(head[':status'], 502)
      assert.equal(head['meshgate-error'], 'E_UPSTREAM_UNREACHABLE')
      assert.equal(rejectThrew, undefined)
    } finally {
      client.destroy()
    }
  })

  it('a tunnel to the echo target moves bytes both ways', async () => {
    const client = await http2Client(rig.port, clientTls)
    try {
      const req = client.request({ ':method': 'CONNECT', ':authority': `127.0.0.1:${(target.address() as AddressInfo).port}` })
      const head = await new Promise<Record<string, unknown>>((resolve) => req.once('response', resolve))
      assert.equal(head[':status'], 200)
      req.write('ping through the splice')
      const echoed = await new Promise<string>((resolve) => req.once('data', (c: Buffer) => resolve(c.toString())))
      assert.equal(echoed, 'ping through the splice')
      req.close()
    } finally {
      client.destroy()
    }
  })
})

// node:http2's constant for the refused-stream code, as a cross-check of h2-wire's table.
assert.equal(h2.NGHTTP2_REFUSED_STREAM, H2_ERROR.refusedStream)
assert.equal(h2.NGHTTP2_ENHANCE_YOUR_CALM, H2_ERROR.enhanceYourCalm)
