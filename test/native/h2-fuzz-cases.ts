/**
 * The seeded HTTP/2 frame generators of the native engine's fuzz runs (engine-fuzz.test.ts
 * against the peer server over TLS, engine-h2c-fuzz.test.ts against the h2c app front): random
 * frames, valid sequences mutated, and the known abuse shapes (huge lengths, SETTINGS, PING and
 * empty-DATA floods, CONTINUATION without HEADERS, RST_STREAM storms, rapid reset, WINDOW_UPDATE
 * overflow, HPACK garbage, CONNECT tunnels…), and the runner that plays one case on a session.
 */
import { prng, SeededGen } from '../helpers/seeded-random.js'
import {
  connectBlock, FLAG, frame, FRAME, H2_ERROR, ping, PREFACE, requestBlock, requestHeaders, rstStream, settingsFrame, u32, windowUpdate, type RawH2,
} from './h2-wire.js'

export class FuzzGen extends SeededGen {
  bytes (n: number): Buffer {
    const b = Buffer.alloc(n)
    for (let i = 0; i < n; i++) b[i] = this.int(256)
    return b
  }

  streamId (): number {
    return this.pick([0, 1, 1, 3, 5, 7, 2, 4, 0x7fffffff, 0x80000001, this.range(1, 1000) | 1, this.int(2 ** 31)])
  }
}

/** A chunk that is not sent: the case waits 20 ms there. */
export const PAUSE = Buffer.alloc(0)

/** What one case sends: chunks written in turn (a yield between them, 20 ms at a PAUSE), and how. */
export interface FuzzCase {
  name: string
  chunks: Buffer[]
  /** Send the preface + SETTINGS first (default true). */
  preface?: boolean
  /** Do not read what the server sends (its writes back up: the outbound-ack flood rule). */
  pauseReading?: boolean
}

function randomFrame (g: FuzzGen): Buffer {
  const type = g.chance(0.85) ? g.int(10) : g.int(256)
  const payload = g.bytes(g.chance(0.2) ? g.range(0, 600) : g.range(0, 40))
  const declared = g.chance(0.1) ? g.int(2 ** 24) : payload.length
  return frame(type, g.int(256), g.streamId(), payload, declared)
}

/** A plausible session: requests with and without bodies, control frames, resets. */
function validSequence (g: FuzzGen): Buffer[] {
  const out: Buffer[] = []
  let sid = 1
  for (let i = g.range(1, 12); i > 0; i--) {
    switch (g.int(8)) {
      case 0: out.push(requestHeaders(sid)); sid += 2; break
      case 1:
        out.push(requestHeaders(sid, false, 'POST'), frame(FRAME.data, 0, sid, g.bytes(g.range(1, 300))), frame(FRAME.data, FLAG.endStream, sid, g.bytes(g.range(0, 50))))
        sid += 2
        break
      case 2: out.push(ping()); break
      case 3: out.push(settingsFrame([[g.range(1, 6), g.range(0, 70000)]])); break
      case 4: out.push(windowUpdate(g.chance(0.5) ? 0 : Math.max(1, sid - 2), g.range(1, 100000))); break
      case 5: out.push(frame(FRAME.priority, 0, sid, Buffer.concat([u32(g.int(sid)), Buffer.from([g.int(256)])]))); break
      case 6: out.push(requestHeaders(sid, false, 'POST'), rstStream(sid, g.int(14))); sid += 2; break
      default: out.push(settingsFrame([], FLAG.ack)); break
    }
  }
  return out
}

function mutate (g: FuzzGen, input: Buffer): Buffer {
  let b = Buffer.from(input)
  for (let m = g.range(1, 6); m > 0 && b.length > 0; m--) {
    const at = g.int(b.length)
    switch (g.int(6)) {
      case 0: b[at] = (b[at] ?? 0) ^ (1 << g.int(8)); break // bit flip
      case 1: b[at] = g.int(256); break // byte
      case 2: b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + g.range(1, 20)))]); break // cut
      case 3: b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + g.range(1, 40)), b.subarray(at)]); break // repeat
      case 4: b = Buffer.concat([b.subarray(0, at), g.bytes(g.range(1, 16)), b.subarray(at)]); break // insert
      default: b = b.subarray(0, at); break // truncate
    }
  }
  return b
}

/** The generators; each case picks one. */
const GENERATORS: Array<(g: FuzzGen) => FuzzCase> = [
  (g) => ({ name: 'random frames', chunks: Array.from({ length: g.range(1, 40) }, () => randomFrame(g)) }),
  (g) => ({ name: 'valid sequence mutated', chunks: [mutate(g, Buffer.concat(validSequence(g)))] }),
  (g) => ({ name: 'valid sequence, frames split across writes', chunks: splitRandomly(g, Buffer.concat(validSequence(g))) }),
  (g) => ({
    name: 'huge or oversized length',
    chunks: [frame(g.pick([FRAME.data, FRAME.headers, FRAME.settings, FRAME.ping, FRAME.continuation, g.int(256)]), g.int(256), g.streamId(),
      g.bytes(g.range(0, 2000)), g.pick([2 ** 24 - 1, 16385, 2 ** 20, g.range(16385, 2 ** 24 - 1)]))],
  }),
  (g) => ({ name: 'truncated frame', chunks: [requestHeaders(1), frame(g.int(10), g.int(256), 1, g.bytes(g.range(10, 100))).subarray(0, g.range(1, 12))] }),
  (g) => ({
    name: 'SETTINGS flood',
    chunks: [Buffer.concat(Array.from({ length: g.range(200, 3000) }, () => settingsFrame(
      Array.from({ length: g.range(0, 4) }, (): [number, number] => [g.range(0, 10), g.pick([0, 1, 2, 16383, 16384, 2 ** 24, 2 ** 31, 2 ** 32 - 1, g.int(2 ** 32)])]),
      g.chance(0.1) ? FLAG.ack : 0)))],
  }),
  (g) => ({ name: 'PING flood, not reading', pauseReading: true, chunks: [Buffer.concat(Array.from({ length: g.range(20000, 80000) }, () => ping()))] }),
  (g) => ({ name: 'PING flood', chunks: [Buffer.concat(Array.from({ length: g.range(1000, 5000) }, () => ping(g.chance(0.05) ? FLAG.ack : 0)))] }),
  (g) => ({
    name: 'empty DATA flood',
    chunks: [requestHeaders(1, false, 'POST'), Buffer.concat(Array.from({ length: g.range(2, 2000) }, () => frame(FRAME.data, 0, 1)))],
  }),
  (g) => ({
    name: 'empty HEADERS flood',
    chunks: [requestHeaders(1, false, 'POST'), Buffer.concat(Array.from({ length: g.range(2, 500) }, () => frame(FRAME.headers, FLAG.endHeaders, 1)))],
  }),
  (g) => ({
    name: 'CONTINUATION without HEADERS',
    chunks: Array.from({ length: g.range(1, 5) }, () => frame(FRAME.continuation, g.pick([0, FLAG.endHeaders]), g.streamId(), g.chance(0.5) ? requestBlock() : g.bytes(g.range(0, 30)))),
  }),
  (g) => {
    const block = requestBlock()
    const pieces = Array.from({ length: g.range(10, 2000) }, (_, i) => i < block.length ? block.subarray(i, i + 1) : Buffer.alloc(g.int(2)))
    return {
      name: 'CONTINUATION flood',
      chunks: [frame(FRAME.headers, FLAG.endStream, 1, Buffer.alloc(0)), Buffer.concat(pieces.map((p, i) => frame(FRAME.continuation, i === pieces.length - 1 && g.chance(0.3) ? FLAG.endHeaders : 0, 1, p)))],
    }
  },
  (g) => {
    const n = g.range(10, 450) // below the premature-reset rule's 500 streams
    const out: Buffer[] = []
    for (let i = 0; i < n; i++) out.push(requestHeaders(2 * i + 1, g.chance(0.5)), rstStream(2 * i + 1, g.pick([H2_ERROR.cancel, H2_ERROR.noError, g.int(20)])))
    for (let i = g.range(0, 20); i > 0; i--) out.push(rstStream(g.streamId(), g.int(2 ** 32)))
    return { name: 'RST_STREAM storm', chunks: [Buffer.concat(out)] }
  },
  (g) => ({
    name: 'rapid reset above the threshold',
    chunks: [Buffer.concat(Array.from({ length: g.range(520, 800) }, (_, i) => Buffer.concat([requestHeaders(2 * i + 1, false), rstStream(2 * i + 1, H2_ERROR.cancel)])))],
  }),
  (g) => ({
    name: 'WINDOW_UPDATE overflow',
    chunks: [requestHeaders(1, false, 'POST'), ...Array.from({ length: g.range(1, 6) }, () =>
      windowUpdate(g.pick([0, 1, 3, g.streamId()]), g.pick([0x7fffffff, 0x7fffffff, 0, 1, 0xffffffff, g.int(2 ** 32)])))],
  }),
  (g) => ({
    name: 'HPACK garbage',
    chunks: [frame(FRAME.headers, FLAG.endHeaders | (g.chance(0.5) ? FLAG.endStream : 0), 1, g.pick([
      g.bytes(g.range(1, 200)),
      Buffer.from([0x3f, 0xe1, 0xff, 0xff, 0xff, 0x0f]), // a dynamic table size update far over the limit
      Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]), // an index that overflows
      Buffer.concat([requestBlock(), Buffer.from([0x00, 0x7f, 0xff, 0xff, 0xff, 0x0f])]), // a literal claiming a 2^28-byte name
      Buffer.concat([requestBlock(), Buffer.from([0x40, 0x85]), g.bytes(5), Buffer.from([0x81, 0xff])]), // bad Huffman
    ]))],
  }),
  (g) => ({
    name: 'no preface',
    preface: false,
    chunks: [g.pick([g.bytes(g.range(1, 200)), Buffer.from('GET / HTTP/1.1\r\nhost: x\r\n\r\n'), PREFACE.subarray(0, g.range(1, 23)), mutate(g, PREFACE)])],
  }),
  (g) => ({
    name: 'PRIORITY abuse',
    chunks: [Buffer.concat(Array.from({ length: g.range(1, 3000) }, (_, i) => {
      const sid = g.chance(0.5) ? 2 * i + 1 : g.streamId()
      return frame(FRAME.priority, 0, sid, Buffer.concat([u32(g.chance(0.3) ? sid : g.int(2 ** 32)), Buffer.from([g.int(256)])]), g.chance(0.05) ? g.int(10) : 5)
    }))],
  }),
  (g) => ({
    name: 'padding abuse',
    chunks: [requestHeaders(1, false, 'POST'), frame(g.pick([FRAME.data, FRAME.headers]), FLAG.padded | g.int(2), 1, Buffer.concat([Buffer.from([g.int(256)]), g.bytes(g.range(0, 20))]))],
  }),
  (g) => ({
    name: 'stream id abuse',
    chunks: [requestHeaders(7), requestHeaders(g.pick([3, 7, 2, 0])), requestHeaders(g.range(1, 100)), frame(FRAME.data, FLAG.endStream, g.streamId(), g.bytes(10))],
  }),
  (g) => ({
    name: 'client PUSH_PROMISE and GOAWAY',
    chunks: [requestHeaders(1, false), frame(FRAME.pushPromise, FLAG.endHeaders, 1, Buffer.concat([u32(2), requestBlock()])),
      frame(FRAME.goaway, 0, 0, Buffer.concat([u32(g.int(10)), u32(g.int(14)), g.bytes(g.int(20))])), requestHeaders(3)],
  }),
  connectAbuse,
  connectAbuse,
  (g) => ({
    name: 'response bodies under a zero and a huge stream window',
    chunks: [settingsFrame([[4, g.pick([0, 1, 100])]]), ...Array.from({ length: g.range(1, 8) }, (_, i) => requestHeaders(2 * i + 1, true, 'POST')),
      settingsFrame([[4, g.pick([65535, 0x7fffffff, 0x80000000])]]), windowUpdate(0, g.pick([1, 0x7fffffff])), windowUpdate(1, g.pick([1, 0x7fffffff])),
      ...(g.chance(0.5) ? [rstStream(3, H2_ERROR.cancel)] : [])],
  }),
  (g) => ({
    name: 'body over the stream window',
    chunks: [requestHeaders(1, false, 'POST'), settingsFrame([[5, 16777215]]),
      ...Array.from({ length: g.range(1, 6) }, () => frame(FRAME.data, 0, 1, Buffer.alloc(g.pick([16384, 16777215 >> 4, 1 << 20]))))],
  }),
]

/** `host:port` of the TCP target a server splices CONNECT streams to (setTunnelTarget()). */
let tunnelTarget = '127.0.0.1:9'

/** Where the CONNECT cases aim (a TCP echo target the test runs). */
export function setTunnelTarget (target: string): void {
  tunnelTarget = target
}

/** CONNECT streams: most spliced to the echo target; data both ways, then an end, a reset or nothing. */
function connectAbuse (g: FuzzGen): FuzzCase {
  const out: Buffer[] = []
  const streams = g.range(1, 6)
  for (let i = 0; i < streams; i++) {
    const authority = g.chance(0.8) ? tunnelTarget : g.pick(['127.0.0.1:1', 'svc', '', '255.255.255.255:80', tunnelTarget + '0'])
    out.push(frame(FRAME.headers, FLAG.endHeaders | (g.chance(0.05) ? FLAG.endStream : 0), 2 * i + 1,
      Buffer.concat([connectBlock(authority), g.chance(0.05) ? requestBlock() : Buffer.alloc(0)])))
  }
  if (g.chance(0.7)) out.push(PAUSE) // let the engine connect the splices
  for (let j = g.range(0, 12); j > 0; j--) {
    const sid = 2 * g.int(streams) + 1
    switch (g.int(8)) {
      case 0: out.push(windowUpdate(g.pick([0, sid]), g.pick([1, 65535, 0x7fffffff]))); break
      case 1: out.push(PAUSE); break
      default: out.push(frame(FRAME.data, 0, sid, g.bytes(g.range(1, g.chance(0.1) ? 16384 : 300))))
    }
  }
  for (let i = 0; i < streams; i++) {
    switch (g.int(4)) {
      case 0: out.push(rstStream(2 * i + 1, g.pick([H2_ERROR.cancel, H2_ERROR.noError, g.int(14)]))); break
      case 1: out.push(frame(FRAME.data, FLAG.endStream, 2 * i + 1, g.bytes(g.range(0, 100)))); break
      default: break // left open: the session's end (or our destroy) ends it
    }
  }
  if (g.chance(0.2)) out.push(frame(FRAME.data, 0, 1, g.bytes(10))) // after the end: STREAM_CLOSED
  return { name: 'CONNECT tunnel abuse', chunks: g.chance(0.8) ? out : [mutate(g, Buffer.concat(out))] }
}

function splitRandomly (g: FuzzGen, b: Buffer): Buffer[] {
  const out: Buffer[] = []
  let at = 0
  while (at < b.length) {
    const n = g.range(1, 64)
    out.push(b.subarray(at, at + n))
    at += n
  }
  return out
}

/** The generators' count (a run should cover most of them). */
export const GENERATOR_COUNT = GENERATORS.length

/** Case `index` of the run seeded `seed`: the same seed and index always give the same bytes. */
export function makeFuzzCase (seed: number, index: number, options: { connect?: boolean } = {}): FuzzCase {
  const g = new FuzzGen(prng(seed ^ Math.imul(index + 1, 0x9e3779b1)))
  for (;;) {
    const generate = GENERATORS[g.int(GENERATORS.length)] as (g: FuzzGen) => FuzzCase
    if (options.connect === false && generate === connectAbuse) continue
    return generate(g)
  }
}

/** Sends a case's chunks on `raw` within `caseMs`; resolves with how the session ended. */
export async function runFuzzCase (raw: RawH2, c: FuzzCase, caseMs: number): Promise<string> {
  if (c.pauseReading === true) raw.socket.pause()
  let timedOut = false
  const deadline = setTimeout(() => {
    timedOut = true
    raw.destroy()
  }, caseMs)
  try {
    for (const chunk of c.chunks) {
      if (chunk === PAUSE) {
        await new Promise((resolve) => setTimeout(resolve, 20))
        continue
      }
      if (!raw.send(chunk)) break
      await new Promise((resolve) => setImmediate(resolve))
    }
    await raw.closed
  } finally {
    clearTimeout(deadline)
    raw.destroy()
  }
  const code = raw.goawayCode()
  if (code !== undefined) return `GOAWAY ${code}`
  return timedOut ? `open after ${caseMs} ms` : 'closed without GOAWAY'
}
