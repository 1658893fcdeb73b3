/**
 * A bounded, seeded fuzz run of the engine's HTTP/1 request parser (llhttp inside the addon, in
 * this process: a crash ends the test). Each case is a generated sequence of 1–3 valid requests
 * (methods, targets, fields, content-length and chunked bodies with extensions and trailers,
 * upgrades), parsed whole and then split at random read boundaries:
 *   - valid cases must come out exactly as generated, whatever the split;
 *   - mutated cases (bytes flipped, inserted, deleted, duplicated; CR, LF, NUL, spaces, colons;
 *     oversized fields) must give the same events whole and split, errors only as 400
 *     E_BAD_REQUEST or 431 E_HEADERS_TOO_LARGE at an offset inside the input, nothing after an
 *     error or an upgrade, and never a head over the limits.
 *
 *   MESHGATE_FUZZ_SEED=1234 node --test dist/test/native/engine-http1-fuzz.test.js   # replay a seed
 *   MESHGATE_FUZZ_CASES=100000 …                                                      # a longer run
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { loadEngine, type Http1ParserEvent, type Http1ParserLimits } from '../../native/engine.js'
import { fuzzSeed, prng, SeededGen } from '../helpers/seeded-random.js'
import { nativeSkip } from '../helpers/transports.js'
import { feedSplit, normalise } from './http1-feed.js'

const SKIP = nativeSkip()

const SEED = fuzzSeed(0x68747031)
const CASES = Number(process.env.MESHGATE_FUZZ_CASES ?? 3000)
/** The run stops early past this, whatever CASES says (sanitizer builds are ~10x slower). */
const BUDGET_MS = 8000

class Gen extends SeededGen {
  str (alphabet: string, lo: number, hi: number): string {
    let s = ''
    for (let n = this.range(lo, hi); n > 0; n--) s += alphabet[this.int(alphabet.length)] ?? ''
    return s
  }
}

const TOKEN = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!#$%&\'*+^`|~'
const VALUE = 'abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,;:/=?"()[]{}@\t'
const PATH = 'abcdefghijklmnopqrstuvwxyz0123456789-_.~/?=&%+'
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'TRACE']
/** Names the generator must not emit as plain fields: they change framing. */
const FRAMING = /^(content-length|transfer-encoding|connection|upgrade|expect)$/i

interface Expected {
  method: string
  target: string
  headers: string[]
  body: string
  trailers: string[]
  upgrade: boolean
}

/** A value without leading/trailing whitespace (llhttp trims optional whitespace, RFC 9112 §5). */
function fieldValue (g: Gen): string {
  return g.str(VALUE, 0, 24).replace(/^[ \t]+|[ \t]+$/g, '')
}

function genRequest (g: Gen, last: boolean): { bytes: string, expected: Expected } {
  const method = g.pick(METHODS)
  const target = '/' + g.str(PATH, 0, 30)
  const headers: string[] = ['Host', `svc-${g.int(100)}.local`]
  for (let n = g.int(8); n > 0; n--) {
    const name = g.str(TOKEN, 1, 16)
    if (FRAMING.test(name)) continue
    headers.push(name, fieldValue(g))
  }
  let body = ''
  let trailers: string[] = []
  let framing = ''
  const upgrade = last && g.chance(0.05)
  const kind = upgrade ? 0 : g.int(3)
  if (kind === 1) {
    body = g.str(VALUE + '\r\n\x00\xff', 0, 200)
    headers.push('Content-Length', String(body.length))
  } else if (kind === 2) {
    headers.push('Transfer-Encoding', 'chunked')
    for (let n = g.int(4); n > 0; n--) {
      const chunk = g.str(VALUE + '\r\n', 1, 60)
      const ext = g.chance(0.3) ? `;${g.str(TOKEN, 1, 8)}=${g.str(TOKEN, 1, 8)}` : ''
      framing += `${chunk.length.toString(16)}${ext}\r\n${chunk}\r\n`
      body += chunk
    }
    framing += '0\r\n'
    for (let n = g.chance(0.3) ? g.range(1, 3) : 0; n > 0; n--) {
      const name = g.str(TOKEN, 1, 10)
      if (FRAMING.test(name)) continue
      trailers.push(name, fieldValue(g))
    }
    framing += trailers.map((x, i) => i % 2 === 0 ? `${x}: ` : `${x}\r\n`).join('') + '\r\n'
  }
  if (upgrade) headers.push('Connection', 'Upgrade', 'Upgrade', 'websocket')
  if (kind !== 2) trailers = []
  let bytes = `${method} ${target} HTTP/1.1\r\n`
  for (let i = 0; i < headers.length; i += 2) bytes += `${headers[i] ?? ''}:${g.chance(0.8) ? ' ' : ''}${headers[i + 1] ?? ''}\r\n`
  bytes += '\r\n' + (kind === 2 ? framing : body)
  return { bytes, expected: { method, target, headers, body, trailers, upgrade } }
}

function mutate (g: Gen, input: Buffer): Buffer {
  let b = Buffer.from(input)
  for (let n = g.range(1, 4); n > 0; n--) {
    const at = g.int(b.length + 1)
    switch (g.int(8)) {
      case 0: if (b.length > 0) b[Math.min(at, b.length - 1)] = g.int(256); break
      case 1: b = Buffer.concat([b.subarray(0, at), Buffer.from([g.int(256)]), b.subarray(at)]); break
      case 2: b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + g.range(1, 8)))]); break
      case 3: b = Buffer.concat([b.subarray(0, at), b.subarray(Math.max(0, at - g.range(1, 20)), at), b.subarray(at)]); break
      case 4: b = Buffer.concat([b.subarray(0, at), Buffer.from(g.pick(['\r', '\n', '\r\n', ' ', ':', '\x00', '\t', '\x7f', ';', '0\r\n\r\n']), 'latin1'), b.subarray(at)]); break
      case 5: b = b.subarray(0, at); break
      case 6: b = Buffer.concat([b.subarray(0, at), Buffer.from(`X-Big: ${'v'.repeat(g.range(100, 3000))}\r\n`, 'latin1'), b.subarray(at)]); break
      case 7: b = Buffer.concat([b.subarray(0, at), Buffer.from(g.pick(['Content-Length: 3\r\n', 'Transfer-Encoding: chunked\r\n', 'Content-Length: 99999999999999999999\r\n', 'Transfer-Encoding: gzip\r\n', 'Connection: close\r\n']), 'latin1'), b.subarray(at)]); break
    }
  }
  return b
}

function randomCuts (g: Gen, length: number): number[] {
  const cuts = new Set<number>()
  for (let n = g.range(1, 12); n > 0; n--) cuts.add(g.range(1, Math.max(1, length - 1)))
  return [...cuts].sort((a, b) => a - b)
}

function parse (limits: Http1ParserLimits, input: Buffer, cuts?: number[]): Http1ParserEvent[] {
  const p = new (loadEngine().Http1RequestParser)(limits)
  return cuts === undefined ? p.execute(input) : feedSplit((bytes) => p.execute(bytes), input, cuts)
}

/** The invariants every result must hold, valid input or not. */
function checkInvariants (events: Http1ParserEvent[], input: Buffer, limits: Required<Http1ParserLimits>, label: string): void {
  events.forEach((ev, i) => {
    if (ev.kind === 'error') {
      assert.equal(i, events.length - 1, `${label}: nothing after an error`)
      assert.ok((ev.status === 400 && ev.code === 'E_BAD_REQUEST') || (ev.status === 431 && ev.code === 'E_HEADERS_TOO_LARGE'), `${label}: ${JSON.stringify(ev)}`)
      assert.ok(ev.offset >= 0 && ev.offset <= input.length, `${label}: offset ${ev.offset} of ${input.length}`)
      assert.ok(ev.name.length > 0 && ev.reason.length > 0, label)
    }
    if (ev.kind === 'upgrade') assert.equal(i, events.length - 1, `${label}: nothing after an upgrade`)
    if (ev.kind === 'head') {
      assert.ok(ev.headBytes <= limits.maxHeaderBytes, `${label}: head of ${ev.headBytes} bytes`)
      assert.ok(ev.headers.length / 2 <= limits.maxHeaderCount, label)
      assert.equal(ev.headers.length % 2, 0, label)
    }
  })
}

describe('native HTTP/1 request parser fuzz', { skip: SKIP }, () => {
  it(`${CASES} seeded cases (seed ${SEED}): valid requests exact, mutated ones consistent, whatever the split`, (t) => {
    const g = new Gen(prng(SEED))
    const started = Date.now()
    let ran = 0
    let errors = 0
    let tooLarge = 0
    for (let c = 0; c < CASES && Date.now() - started < BUDGET_MS; c++, ran++) {
      const limits = g.chance(0.5)
        ? { maxHeaderBytes: 64 * 1024, maxHeaderCount: 256 }
        : { maxHeaderBytes: g.range(48, 2048), maxHeaderCount: g.range(2, 40) }
      const count = g.range(1, 3)
      const requests = Array.from({ length: count }, (_, i) => genRequest(g, i === count - 1))
      const input = Buffer.from(requests.map((r) => r.bytes).join(''), 'latin1')
      const label = `seed ${SEED} case ${c}`
      const mutated = g.chance(0.6)
      const bytes = mutated ? mutate(g, input) : input
      const whole = parse(limits, bytes)
      checkInvariants(whole, bytes, limits, label)
      const cuts = randomCuts(g, bytes.length)
      const split = parse(limits, bytes, cuts)
      assert.deepEqual(normalise(split), normalise(whole), `${label}: split at ${cuts.join(',')} differs from whole; input ${JSON.stringify(bytes.toString('latin1'))}`)
      const error = whole.find((e) => e.kind === 'error')
      if (error !== undefined) {
        errors++
        if (error.status === 431) tooLarge++
      }
      if (mutated) continue
      // Valid input: either it fits the limits and parses exactly as generated, or it is a 431.
      if (error !== undefined) {
        assert.equal(error.status, 431, `${label}: a valid request refused: ${JSON.stringify(error)} for ${JSON.stringify(input.toString('latin1'))}`)
        continue
      }
      const got = normalise(whole) as Array<Record<string, unknown>>
      const want: unknown[] = []
      for (const r of requests) {
        want.push({ kind: 'head', method: r.expected.method, target: r.expected.target, headers: r.expected.headers })
        if (r.expected.upgrade) {
          want.push({ kind: 'upgrade', rest: '' })
          continue
        }
        if (r.expected.body.length > 0) want.push({ kind: 'body', data: r.expected.body })
        want.push({ kind: 'end', trailers: r.expected.trailers })
      }
      const picked = got.map((e) => e.kind === 'head' ? { kind: 'head', method: e.method, target: e.target, headers: e.headers } : e)
      assert.deepEqual(picked, want, `${label}: ${JSON.stringify(input.toString('latin1'))}`)
    }
    t.diagnostic(`${ran} cases, ${errors} refused (${tooLarge} with 431)`)
    assert.ok(ran >= Math.min(CASES, 200), `only ${ran} cases ran within ${BUDGET_MS} ms`)
    // The generator must reach both kinds of refusal, or it tests less than it says.
    assert.ok(errors > 0 && tooLarge > 0, `errors ${errors}, of which 431: ${tooLarge}`)
  })
})
