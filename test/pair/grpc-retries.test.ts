// Retries on gRPC status through a real pair, with a real h2c gRPC-shaped workload (node:http2,
// application/grpc, length-prefixed messages, status in trailers): a trailers-only answer and a
// unary answer whose retryable status comes in the trailers are retried; a status that is not
// retryable, or an answer larger than maxResponseBytes, goes to the app as it came. On both data planes.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import http2 from 'node:http2'
import type { AddressInfo } from 'node:net'
import { startPair, type Pair } from '../helpers/pair.js'
import { counter } from '../helpers/route-metrics.js'
import { DATA_PLANES } from '../helpers/transports.js'

const UNAVAILABLE = 14
const INVALID_ARGUMENT = 3
const HOLD_BOUND = 16 * 1024

/** One gRPC message frame: compressed flag 0, 4-byte big-endian length, payload. */
function frame (payload: Buffer): Buffer {
  const head = Buffer.alloc(5)
  head.writeUInt32BE(payload.length, 1)
  return Buffer.concat([head, payload])
}

/**
 * An h2c gRPC-shaped server. Methods of `test.Echo`, keyed by the `x-call` header (tries counted per key):
 * - TrailersOnly: first try answers trailers-only with UNAVAILABLE, then a message and OK;
 * - Unary: first try sends a message, then UNAVAILABLE in the trailers; then a message and OK;
 * - Invalid: a message, then INVALID_ARGUMENT in the trailers, every time;
 * - Big: first try sends 64 KiB of messages (above the hold bound), then UNAVAILABLE in the trailers;
 * - Reset: sends the head and half a message, then resets the stream (RST_STREAM INTERNAL_ERROR, no END_STREAM).
 */
async function startGrpcServer (): Promise<{ port: number, tries: Map<string, number>, close: () => Promise<void> }> {
  const tries = new Map<string, number>()
  const server = http2.createServer()
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {})
    const key = `${String(headers[':path'])}|${String(headers['x-call'])}`
    const n = (tries.get(key) ?? 0) + 1
    tries.set(key, n)
    const chunks: Buffer[] = []
    stream.on('data', (c: Buffer) => chunks.push(c))
    stream.on('end', () => {
      const request = Buffer.concat(chunks)
      const reply = frame(Buffer.from(`reply ${n} to ${request.subarray(5).toString()}`))
      const ok = (): void => {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true })
        stream.once('wantTrailers', () => { stream.sendTrailers({ 'grpc-status': '0' }) })
        stream.end(reply)
      }
      const failing = (status: number, body: Buffer): void => {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true })
        stream.once('wantTrailers', () => { stream.sendTrailers({ 'grpc-status': String(status), 'grpc-message': 'try again' }) })
        stream.end(body)
      }
      switch (headers[':path']) {
        case '/test.Echo/TrailersOnly':
          if (n === 1) stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(UNAVAILABLE) }, { endStream: true })
          else ok()
          break
        case '/test.Echo/Unary':
          if (n === 1) failing(UNAVAILABLE, reply)
          else ok()
          break
        case '/test.Echo/Invalid':
          failing(INVALID_ARGUMENT, reply)
          break
        case '/test.Echo/Big':
          if (n === 1) failing(UNAVAILABLE, Buffer.concat(Array.from({ length: 4 }, () => frame(Buffer.alloc(16 * 1024 - 5, 'b')))))
          else ok()
          break
        case '/test.Echo/Reset':
          stream.respond({ ':status': 200, 'content-type': 'application/grpc' })
          stream.write(reply.subarray(0, 8), () => { setTimeout(() => stream.destroy(new Error('workload gives up')), 20) })
          break
        default:
          stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '12' }, { endStream: true })
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    tries,
    close: async () => { await new Promise((resolve) => server.close(resolve)) },
  }
}

interface GrpcReply { status: number, grpcStatus: string | undefined, error: string | undefined, body: Buffer, resetCode: number | undefined }

/** One unary call over h2c to the outbound listener; the gRPC status from the head (trailers-only) or the trailers. */
async function call (session: http2.ClientHttp2Session, method: string, id: string, message = 'hello'): Promise<GrpcReply> {
  return await new Promise((resolve, reject) => {
    const stream = session.request({ ':method': 'POST', ':path': `/test.Echo/${method}`, ':authority': 'web.test', 'content-type': 'application/grpc', te: 'trailers', 'x-call': id })
    let status = 0
    let grpcStatus: string | undefined
    let error: string | undefined
    const chunks: Buffer[] = []
    stream.on('response', (h) => { status = Number(h[':status']); grpcStatus = h['grpc-status'] as string | undefined; error = h['meshgate-error'] as string | undefined })
    stream.on('trailers', (t) => { grpcStatus = t['grpc-status'] as string | undefined })
    stream.on('data', (c: Buffer) => chunks.push(c))
    stream.on('end', () => resolve({ status, grpcStatus, error, body: Buffer.concat(chunks), resetCode: undefined }))
    stream.on('error', (err) => { if (stream.rstCode !== undefined && stream.rstCode !== 0) resolve({ status, grpcStatus, error, body: Buffer.concat(chunks), resetCode: stream.rstCode }); else reject(err) })
    stream.setTimeout(20_000, () => stream.close(http2.constants.NGHTTP2_CANCEL))
    stream.end(frame(Buffer.from(message)))
  })
}

const ROUTES = `routes:
  - name: echo
    match: [{ grpc: { service: test.Echo } }]
    retry: { on: [reset], grpcCodes: [unavailable], maxRetries: 2, maxResponseBytes: ${HOLD_BOUND / 1024}KiB }`

for (const plane of DATA_PLANES) {
  describe(`retries on gRPC status (${plane.name} data plane)`, { skip: plane.skip, timeout: 120_000 }, () => {
    let grpc: Awaited<ReturnType<typeof startGrpcServer>>
    let pair: Pair
    let session: http2.ClientHttp2Session
    const retries = async (): Promise<number> => await counter(pair.client, 'meshgate_retries_total', { route: 'echo', reason: 'grpc' })
    before(async () => {
      grpc = await startGrpcServer()
      pair = await startPair({ dataPlane: plane.name, webTarget: `127.0.0.1:${grpc.port}`, webExtra: ROUTES })
      session = http2.connect(`http://127.0.0.1:${pair.appPort}`)
    })
    after(async () => {
      session?.close()
      await pair?.close()
      await grpc?.close()
    })

    it('a trailers-only UNAVAILABLE is retried; the app sees only the OK answer', async () => {
      const reply = await call(session, 'TrailersOnly', 'a')
      assert.equal(reply.status, 200)
      assert.equal(reply.grpcStatus, '0')
      assert.equal(reply.body.subarray(5).toString(), 'reply 2 to hello')
      assert.equal(grpc.tries.get('/test.Echo/TrailersOnly|a'), 2)
      assert.equal(await retries(), 1)
    })

    it('a unary answer with UNAVAILABLE in its trailers (after a message) is held and retried; counted per route', async () => {
      const before = await retries()
      const reply = await call(session, 'Unary', 'b')
      assert.equal(reply.grpcStatus, '0')
      // Only the second try's message reached the app: the first one's was held and dropped.
      assert.deepEqual(reply.body, frame(Buffer.from('reply 2 to hello')))
      assert.equal(grpc.tries.get('/test.Echo/Unary|b'), 2)
      assert.equal(await retries() - before, 1)
      // Each call retried once, the request body replayed each time.
      for (let i = 0; i < 5; i++) assert.equal((await call(session, 'Unary', `c${i}`, `m${i}`)).body.subarray(5).toString(), `reply 2 to m${i}`)
      assert.equal(await retries() - before, 6)
    })

    it('a status not named in grpcCodes comes through once, body and trailers intact', async () => {
      const before = await retries()
      const reply = await call(session, 'Invalid', 'd')
      assert.equal(reply.grpcStatus, String(INVALID_ARGUMENT))
      assert.equal(reply.body.subarray(5).toString(), 'reply 1 to hello')
      assert.equal(grpc.tries.get('/test.Echo/Invalid|d'), 1)
      assert.equal(await retries(), before)
    })

    it('an answer larger than maxResponseBytes is committed to the app: its UNAVAILABLE is not retried, all bytes arrive', async () => {
      const before = await retries()
      const reply = await call(session, 'Big', 'e')
      assert.equal(reply.grpcStatus, String(UNAVAILABLE))
      assert.equal(reply.body.length, 64 * 1024)
      assert.ok(reply.body.length > HOLD_BOUND)
      assert.equal(grpc.tries.get('/test.Echo/Big|e'), 1)
      assert.equal(await retries(), before)
    })

    it('a held answer cut by a reset: not retried (a POST that reached the peer), and nothing of it was sent, so the app gets a clean 502', async () => {
      const before = await counter(pair.client, 'meshgate_retries_total', { route: 'echo' })
      const reply = await call(session, 'Reset', 'f')
      assert.equal(reply.resetCode, undefined, 'the app stream was answered, not reset')
      assert.equal(reply.status, 502)
      assert.equal(reply.error, 'E_PEER_RESET')
      assert.ok(!reply.body.includes(frame(Buffer.from('reply 1 to hello')).subarray(0, 8)), `none of the held half message: ${reply.body.toString()}`)
      assert.equal(grpc.tries.get('/test.Echo/Reset|f'), 1)
      assert.equal(await counter(pair.client, 'meshgate_retries_total', { route: 'echo' }), before)
      // The session and the route still serve.
      assert.equal((await call(session, 'Unary', 'g')).grpcStatus, '0')
    })
  })
}
