/**
 * The engine's HTTP/1 request parser (native/engine/src/http1-parser.h, over Debian's llhttp
 * compiled into the addon): heads, framing, pipelining, chunked bodies and trailers, upgrades,
 * the limits (431 at the byte the head passes maxHeaderBytes, however the bytes were split),
 * precise errors, and that the addon's llhttp is its own copy and not node's.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { createServer, type IncomingMessage } from 'node:http'
import { connect, type AddressInfo } from 'node:net'
import { describe, it } from 'node:test'
import { loadEngine, type Http1ParserEvent, type Http1ParserLimits } from '../../native/engine.js'
import { nativeSkip } from '../helpers/transports.js'
import { dirname, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { feedSplit, normalise } from './http1-feed.js'

const SKIP = nativeSkip()

/** The addon file this process loads (native/sanitize.sh names its own build). */
function addonPath (): string {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
  return process.env.MESHGATE_ENGINE_ADDON ?? resolve(root, 'native', 'engine', 'build', 'Release', 'meshgate_engine.node')
}

function parser (limits?: Http1ParserLimits): { execute: (b: Buffer | string) => Http1ParserEvent[], finish: () => Http1ParserEvent[] } {
  const p = new (loadEngine().Http1RequestParser)(limits)
  return { execute: (b) => p.execute(typeof b === 'string' ? Buffer.from(b, 'latin1') : b), finish: () => p.finish() }
}

function kinds (events: Http1ParserEvent[]): string[] {
  return events.map((e) => e.kind)
}

function only<K extends Http1ParserEvent['kind']> (events: Http1ParserEvent[], kind: K): Extract<Http1ParserEvent, { kind: K }> {
  const found = events.filter((e) => e.kind === kind)
  assert.equal(found.length, 1, `one ${kind} event in ${JSON.stringify(kinds(events))}`)
  return found[0] as Extract<Http1ParserEvent, { kind: K }>
}

describe('native HTTP/1 request parser', { skip: SKIP }, () => {
  it('links its own llhttp: the version is reported and no llhttp symbol is exported or imported', () => {
    assert.match(loadEngine().versions.llhttp, /^\d+\.\d+\.\d+$/)
    const nm = spawnSync('nm', ['-D', addonPath()], { encoding: 'utf8' })
    assert.equal(nm.status, 0, nm.stderr)
    // Dynamic symbols named llhttp_… would bind to node's copy (another version, other layouts).
    const llhttp = nm.stdout.split('\n').filter((line) => / llhttp_/.test(line))
    assert.deepEqual(llhttp, [])
  })

  it('parses a head: method, target, version, raw fields, keep-alive, framing, 100-continue', () => {
    const events = parser().execute('POST /a?b=1 HTTP/1.1\r\nHost: svc.local\r\nX-Empty:\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nabc')
    assert.deepEqual(kinds(events), ['head', 'body', 'end'])
    const head = only(events, 'head')
    assert.equal(head.method, 'POST')
    assert.equal(head.target, '/a?b=1')
    assert.deepEqual([head.versionMajor, head.versionMinor], [1, 1])
    assert.deepEqual(head.headers, ['Host', 'svc.local', 'X-Empty', '', 'Content-Length', '3', 'Expect', '100-continue'])
    assert.equal(head.keepAlive, true)
    assert.equal(head.upgrade, false)
    assert.equal(head.expectContinue, true)
    assert.equal(head.body, 1)
    assert.equal(head.contentLength, 3)
    assert.equal(head.headBytes, 'POST /a?b=1 HTTP/1.1\r\nHost: svc.local\r\nX-Empty:\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n'.length)
    assert.equal(only(events, 'body').data.toString(), 'abc')
  })

  it('keep-alive follows the version and Connection', () => {
    assert.equal(only(parser().execute('GET / HTTP/1.0\r\n\r\n'), 'head').keepAlive, false)
    assert.equal(only(parser().execute('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'), 'head').keepAlive, true)
    assert.equal(only(parser().execute('GET / HTTP/1.1\r\nConnection: close\r\n\r\n'), 'head').keepAlive, false)
  })

  it('removes chunked framing and returns the trailers', () => {
    const events = parser().execute('PUT /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nGrpc-Status: 0\r\nX-T: 2\r\n\r\n')
    assert.deepEqual(kinds(events).filter((k) => k !== 'body'), ['head', 'end'])
    assert.equal(only(events, 'head').body, 2)
    assert.equal(Buffer.concat(events.flatMap((e) => e.kind === 'body' ? [e.data] : [])).toString(), 'hello world')
    assert.deepEqual(only(events, 'end').trailers, ['Grpc-Status', '0', 'X-T', '2'])
  })

  it('pipelined requests come out one after another, each head before its body', () => {
    const events = parser().execute('GET /1 HTTP/1.1\r\nHost: x\r\n\r\nPOST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhiGET /3 HTTP/1.1\r\nHost: x\r\n\r\n')
    assert.deepEqual(kinds(events), ['head', 'end', 'head', 'body', 'end', 'head', 'end'])
    assert.deepEqual(events.flatMap((e) => e.kind === 'head' ? [e.target] : []), ['/1', '/2', '/3'])
  })

  it('the result does not depend on how the bytes were split, down to one byte a read', () => {
    const input = Buffer.from('POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nT: 1\r\n\r\nGET /y HTTP/1.1\r\nHost: b\r\n\r\n', 'latin1')
    const whole = normalise(parser().execute(input))
    for (let cut = 1; cut < input.length; cut++) {
      const p = parser()
      assert.deepEqual(normalise(feedSplit(p.execute, input, [cut])), whole, `cut at ${cut}`)
    }
    const p = parser()
    assert.deepEqual(normalise(feedSplit(p.execute, input, Array.from({ length: input.length }, (_, i) => i + 1))), whole)
  })

  it('an Upgrade or CONNECT ends the HTTP/1 stream: the bytes after the head are handed back', () => {
    const ws = parser().execute('GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x00frames')
    assert.deepEqual(kinds(ws), ['head', 'upgrade'])
    assert.equal(only(ws, 'head').upgrade, true)
    assert.equal(only(ws, 'upgrade').rest.toString('latin1'), '\x81\x00frames')
    const connect = parser().execute('CONNECT db:5432 HTTP/1.1\r\nHost: db:5432\r\n\r\n')
    assert.deepEqual(kinds(connect), ['head', 'upgrade'])
    assert.equal(only(connect, 'head').target, 'db:5432')
    assert.equal(only(connect, 'upgrade').rest.length, 0)
  })

  it('a head of exactly maxHeaderBytes passes; one byte more is 431 at that byte, whole or split', () => {
    const base = 'GET / HTTP/1.1\r\nHost: '
    const make = (total: number): Buffer => Buffer.from(base + 'x'.repeat(total - base.length - 4) + '\r\n\r\n', 'latin1')
    const limit = 256
    assert.equal(only(parser({ maxHeaderBytes: limit }).execute(make(limit)), 'head').headBytes, limit)
    for (const cuts of [[], [10], [limit], [limit + 1], [limit - 3, limit + 1]]) {
      const p = parser({ maxHeaderBytes: limit })
      const err = only(feedSplit(p.execute, make(limit + 1), cuts), 'error')
      assert.deepEqual([err.status, err.code, err.name, err.offset], [431, 'E_HEADERS_TOO_LARGE', 'HEADERS_TOO_LARGE', limit], `cuts ${cuts.join(',')}`)
      assert.match(err.reason, /request head larger than 256 bytes/)
    }
  })

  it('a head that never ends is refused at the limit, not buffered', () => {
    const p = parser({ maxHeaderBytes: 1024 })
    assert.deepEqual(p.execute('GET / HTTP/1.1\r\n'), [])
    let events: Http1ParserEvent[] = []
    for (let i = 0; i < 100 && events.length === 0; i++) events = p.execute(`X-Slow-${i}: ${'y'.repeat(20)}\r\n`)
    const err = only(events, 'error')
    assert.equal(err.status, 431)
    assert.equal(err.offset, 1024)
    // Nothing more is read once the decision is made.
    assert.deepEqual(kinds(p.execute('\r\n')), ['error'])
  })

  it('more fields than maxHeaderCount is 431, in the head and in the trailers', () => {
    const fields = (n: number): string => Array.from({ length: n }, (_, i) => `F${i}: v\r\n`).join('')
    assert.equal(only(parser({ maxHeaderCount: 4 }).execute(`GET / HTTP/1.1\r\n${fields(4)}\r\n`), 'head').headers.length, 8)
    const head = only(parser({ maxHeaderCount: 4 }).execute(`GET / HTTP/1.1\r\n${fields(5)}\r\n`), 'error')
    assert.deepEqual([head.status, head.code, head.name], [431, 'E_HEADERS_TOO_LARGE', 'TOO_MANY_FIELDS'])
    const trailers = parser({ maxHeaderCount: 4 }).execute(`POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n${fields(5)}\r\n`)
    assert.match(only(trailers, 'error').reason, /trailer section has more than 4 fields/)
  })

  it('a trailer section over maxHeaderBytes is 431', () => {
    const events = parser({ maxHeaderBytes: 128 }).execute(`POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\na\r\n0\r\nT: ${'z'.repeat(200)}\r\n\r\n`)
    const err = only(events, 'error')
    assert.equal(err.status, 431)
    assert.match(err.reason, /trailer section larger than 128 bytes/)
  })

  it('malformed requests get 400 E_BAD_REQUEST with llhttp\'s error name and the byte offset', () => {
    const cases: Array<[string, string, number]> = [
      ['GE T / HTTP/1.1\r\n\r\n', 'HPE_INVALID_METHOD', 2],
      // Debian's llhttp 8.1 lets whitespace into a field name; the parser refuses it (RFC 9112 §5.1).
      ['GET / HTTP/1.1\r\nHo st: x\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN', 22],
      ['GET / HTTP/1.1\r\nHost : x\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN', 22],
      ['GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN', 26],
      ['GET / HTTP/1.1\r\nH(st: x\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN', 17],
      ['GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN', 23],
      ['GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n', 'HPE_LF_EXPECTED', 24],
      ['GET / HTTP/9.1\r\n\r\n', 'HPE_INVALID_VERSION', 14],
      ['POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', 'HPE_UNEXPECTED_CONTENT_LENGTH', -1],
      ['POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n', 'HPE_INVALID_TRANSFER_ENCODING', -1],
      ['POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 'HPE_INVALID_CHUNK_SIZE', -1],
      ['GET / HTTP/1.1\r\nHost: a\nb\r\n\r\n', 'HPE_INVALID_HEADER_TOKEN', 23],
    ]
    for (const [input, name, offset] of cases) {
      const err = only(parser().execute(input), 'error')
      assert.equal(err.status, 400, input)
      assert.equal(err.code, 'E_BAD_REQUEST', input)
      assert.equal(err.name, name, JSON.stringify(input))
      assert.ok(err.reason.length > 0, input)
      if (offset >= 0) assert.equal(err.offset, offset, JSON.stringify(input))
      else assert.ok(err.offset > 0 && err.offset <= input.length, JSON.stringify(input))
    }
  })

  it('closing inside a request is an error; between requests it is not', () => {
    const between = parser()
    between.execute('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
    assert.deepEqual(between.finish(), [])
    const emptyLines = parser()
    assert.deepEqual(kinds(emptyLines.execute('GET / HTTP/1.1\r\nHost: x\r\n\r\n\r\n\r\n')), ['head', 'end'])
    assert.deepEqual(emptyLines.finish(), [])
    const inBody = parser()
    assert.deepEqual(kinds(inBody.execute('POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab')), ['head', 'body'])
    const err = only(inBody.finish(), 'error')
    assert.deepEqual([err.status, err.code, err.name], [400, 'E_BAD_REQUEST', 'HPE_INVALID_EOF_STATE'])
    const inHead = parser()
    inHead.execute('GET / HT')
    assert.equal(only(inHead.finish(), 'error').status, 400)
  })

  it('refuses what Debian\'s llhttp 8.1 lets through and node\'s llhttp 9 does not, whole or split', () => {
    const cases: Array<[string, string]> = [
      ['GET / HTTP/1.1\nHost: a\r\n\r\n', 'HPE_STRICT'], // bare LF after the request line
      ['GET / HTTP/1.1\r\nHost: a\r\n\rX', 'HPE_STRICT'], // "\r\n\r" + a byte as the end of the head
      ['GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n b\r\n\r\n', 'HPE_STRICT'], // obs-fold
      ['GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n\tb\r\n\r\n', 'HPE_STRICT'],
      ['GET /caf\xe9 HTTP/1.1\r\nHost: a\r\n\r\n', 'HPE_INVALID_URL'], // non-ASCII target
      ['GET /b?c=dHTTP/1.1\r\nHost: a\r\n\r\n', 'HPE_INVALID_VERSION'], // no version: HTTP/0.9
      ['GET / HTTP/2.0\r\nHost: a\r\n\r\n', 'HPE_INVALID_VERSION'],
      ['POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: 1\r\n x\r\n\r\n', 'HPE_STRICT'], // obs-fold in the trailers
    ]
    for (const [text, name] of cases) {
      const input = Buffer.from(text, 'latin1')
      const whole = parser().execute(input)
      const err = only(whole, 'error')
      assert.deepEqual([err.status, err.code, err.name], [400, 'E_BAD_REQUEST', name], JSON.stringify(text))
      for (let cut = 1; cut < input.length; cut++) {
        const p = parser()
        assert.deepEqual(normalise(feedSplit(p.execute, input, [cut])), normalise(whole), `${JSON.stringify(text)} cut at ${cut}`)
      }
    }
  })

  it('values: trailing whitespace is not part of them, obs-text octets arrive as latin1', () => {
    const head = only(parser().execute('GET / HTTP/1.1\r\nHost: a\r\nX-A:  v 1 \t\r\nX-B: caf\xe9\r\n\r\n'), 'head')
    assert.deepEqual(head.headers, ['Host', 'a', 'X-A', 'v 1', 'X-B', 'caf\xe9'])
  })

  it('agrees with node:http (the JS path\'s parser) on which heads it takes and which it refuses', async () => {
    const corpus = [
      'GET / HTTP/1.1\r\nHost: a\r\n\r\n',
      'GET /x?y=1 HTTP/1.0\r\nHost: a\r\nX-Obs: caf\xe9\r\n\r\n',
      'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi',
      'GET / HTTP/1.1\nHost: a\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\nX: 1\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\n\rX',
      'GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n b\r\n\r\n',
      'GET / HTTP/1.1\r\nHo st: a\r\n\r\n',
      'GET / HTTP/1.1\r\nHost : a\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n',
      'GET /caf\xe9 HTTP/1.1\r\nHost: a\r\n\r\n',
      'GET / HTTP/9.1\r\nHost: a\r\n\r\n',
      'GE T / HTTP/1.1\r\nHost: a\r\n\r\n',
      'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
      'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n',
      'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\x00b\r\n\r\n',
      `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'v'.repeat(300)}\r\n\r\n`,
    ]
    const limit = 256
    let verdict: string | undefined
    const server = createServer({ maxHeaderSize: limit }, (req: IncomingMessage, res) => {
      verdict ??= 'accepted'
      req.resume()
      res.end()
    })
    server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      verdict ??= err.code === 'HPE_HEADER_OVERFLOW' ? '431' : '400'
      socket.destroy()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    try {
      for (const text of corpus) {
        verdict = undefined
        await new Promise<void>((resolve) => {
          const socket = connect(port, '127.0.0.1', () => socket.end(Buffer.from(text, 'latin1')))
          const timer = setTimeout(() => socket.destroy(), 2000)
          socket.on('data', () => {})
          socket.on('error', () => {})
          socket.on('close', () => { clearTimeout(timer); resolve() })
        })
        const first = parser({ maxHeaderBytes: limit }).execute(Buffer.from(text, 'latin1')).find((e) => e.kind === 'head' || e.kind === 'error')
        const native = first === undefined ? 'none' : first.kind === 'head' ? 'accepted' : String(first.kind === 'error' ? first.status : '')
        assert.equal(native, verdict ?? 'none', `native and node:http differ on ${JSON.stringify(text)}`)
      }
    } finally {
      server.close()
    }
  })

  it('bad limits are a TypeError naming the option', () => {
    const Parser = loadEngine().Http1RequestParser
    assert.throws(() => new Parser({ maxHeaderBytes: 0 }), /maxHeaderBytes must be an integer from 1 to 16777216/)
    assert.throws(() => new Parser({ maxHeaderCount: 1.5 }), /maxHeaderCount must be an integer/)
  })
})
