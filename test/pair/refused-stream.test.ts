// A peer that refuses a request unprocessed (RST_STREAM REFUSED_STREAM with a GOAWAY below the
// stream, as a peer going away does, RFC 9113 §8.7): the outbound sends a body-less request once
// more, on a fresh session, and only once; a request with a body is answered with the refusal.
// REFUSED_STREAM alone, with the session staying up, is sent once more too (on any session).
// On both data planes: the native one gives the head back to JS (kAppRefused) for the resend.
// The peer is node:http2 over mutual TLS with a certificate of the test CA.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import http2 from 'node:http2'
import type { AddressInfo } from 'node:net'
import { h2cRequest } from '../helpers/h2c-request.js'
import { makePki, type TestPki } from '../helpers/pki.js'
import { startPair, type Pair } from '../helpers/pair.js'
import { DATA_PLANES } from '../helpers/transports.js'

interface Reply { status: number, error: string, body: string }

async function request (port: number, method: string, body?: string): Promise<Reply> {
  return await new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: '/x', method, agent: false, headers: { host: 'web.test' } }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => { text += c })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, error: String(res.headers['meshgate-error'] ?? ''), body: text }))
    })
    req.on('error', reject)
    req.setTimeout(10_000, () => req.destroy(new Error('test request timed out')))
    req.end(body)
  })
}

/**
 * The peer: refuses the next `refuse` streams (REFUSED_STREAM and, with `goaway`, GOAWAY below
 * them, so the session is going away), answers the others 200 with `answered`. Counts the
 * streams it saw and the sessions it was opened.
 */
class RefusingPeer {
  refuse = 0
  goaway = true
  sessionsOpened = 0
  streams = 0
  readonly #server: http2.Http2SecureServer
  readonly #sessions = new Set<http2.ServerHttp2Session>()

  constructor (tls: { ca: string, cert: string, key: string }) {
    this.#server = http2.createSecureServer({ ...tls, requestCert: true, rejectUnauthorized: true, allowHTTP1: false })
    this.#server.on('session', (session) => {
      this.#sessions.add(session)
      this.sessionsOpened++
      session.on('close', () => this.#sessions.delete(session))
      session.on('error', () => {})
    })
    this.#server.on('stream', (stream) => {
      this.streams++
      stream.on('error', () => {})
      if (this.refuse > 0) {
        this.refuse--
        if (this.goaway) stream.session?.goaway(http2.constants.NGHTTP2_NO_ERROR, Math.max(0, (stream.id ?? 1) - 2))
        stream.close(http2.constants.NGHTTP2_REFUSED_STREAM)
        return
      }
      stream.respond({ ':status': 200, 'content-type': 'text/plain' })
      stream.end('answered')
    })
  }

  async listen (): Promise<number> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve))
    return (this.#server.address() as AddressInfo).port
  }

  async close (): Promise<void> {
    for (const s of this.#sessions) s.destroy()
    await new Promise((resolve) => this.#server.close(resolve))
  }
}

for (const plane of DATA_PLANES) {
  describe(`a request the peer refused unprocessed (${plane.name} data plane)`, { skip: plane.skip, timeout: 60_000 }, () => {
    let pki: TestPki
    let peer: RefusingPeer
    let pair: Pair
    before(async () => {
      pki = await makePki()
      peer = new RefusingPeer(await pki.workload('server'))
      const port = await peer.listen()
      pair = await startPair({ pki, dataPlane: plane.name, webPeer: `127.0.0.1:${port}`, outboundExtra: 'timeouts: { requestMs: 5000 }' })
    })
    after(async () => {
      await pair?.close()
      await peer?.close()
    })

    it('sends a body-less request once more on a new session, and the app gets the answer', async () => {
      assert.equal((await request(pair.appPort, 'GET')).status, 200, 'a first request, unrefused')
      const before = peer.streams
      peer.refuse = 1
      const reply = await request(pair.appPort, 'GET')
      assert.deepEqual(reply, { status: 200, error: '', body: 'answered' })
      assert.equal(peer.streams - before, 2, 'the refused stream and the one sent again')
    })

    it('sends it only once more: refused twice, the app gets the refusal', async () => {
      const before = peer.streams
      peer.refuse = 2
      const reply = await request(pair.appPort, 'GET')
      assert.equal(reply.status, 502)
      assert.equal(reply.error, 'E_PEER_REFUSED')
      assert.equal(peer.streams - before, 2, 'two attempts, no third')
      peer.refuse = 0
      assert.equal((await request(pair.appPort, 'GET')).status, 200, 'the next request goes through')
    })

    it('sends it once more when the peer refuses it without going away, on the session it has', async () => {
      assert.equal((await request(pair.appPort, 'GET')).status, 200, 'a session is up')
      const before = peer.streams
      const sessions = peer.sessionsOpened
      peer.goaway = false
      peer.refuse = 1
      try {
        const reply = await request(pair.appPort, 'GET')
        assert.deepEqual(reply, { status: 200, error: '', body: 'answered' })
        assert.equal(peer.streams - before, 2, 'the refused stream and the one sent again')
        assert.equal(peer.sessionsOpened, sessions, 'no new session: the one refusing stayed up')
        peer.refuse = 2
        const twice = await request(pair.appPort, 'GET')
        assert.equal(twice.status, 502)
        assert.equal(twice.error, 'E_PEER_REFUSED')
        assert.equal(peer.streams - before, 4, 'two attempts more, no third')
      } finally {
        peer.refuse = 0
        peer.goaway = true
      }
    })

    it('does not send a request with a body again: its bytes went to the refused stream', async () => {
      const before = peer.streams
      peer.refuse = 1
      const reply = await request(pair.appPort, 'POST', 'some body')
      assert.equal(reply.status, 502)
      assert.equal(reply.error, 'E_PEER_REFUSED')
      assert.equal(peer.streams - before, 1)
      peer.refuse = 0
    })

    it('does the same for an h2c stream from the app', async () => {
      const session = http2.connect(`http://127.0.0.1:${pair.appPort}`)
      session.on('error', () => {})
      try {
        const before = peer.streams
        peer.refuse = 1
        const reply = await h2cRequest(session, { ':path': '/x' })
        assert.equal(reply.error, undefined)
        assert.equal(reply.status, 200)
        assert.equal(reply.body.toString(), 'answered')
        assert.equal(peer.streams - before, 2, 'the refused stream and the one sent again')
        peer.refuse = 2
        const twice = await h2cRequest(session, { ':path': '/x' })
        assert.equal(twice.status, 502)
        assert.equal(twice.headers['meshgate-error'], 'E_PEER_REFUSED')
        assert.equal(peer.streams - before, 4, 'two attempts more, no third')
      } finally {
        peer.refuse = 0
        session.destroy()
      }
    })
  })
}
