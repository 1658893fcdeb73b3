// Raw TCP through the meshgate pair: echo, half-close both ways and 100 MB each way with checksums over each peer transport; detection fallbacks.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import net from 'node:net'
import { startPair, type Pair } from '../helpers/pair.js'
import { patternStream } from '../helpers/streams.js'
import { pairTransports, sessionTransports } from '../helpers/transports.js'

/** Connects, writes `input` (then half-closes), and collects everything until the server's FIN. */
function exchange (port: number, input: Buffer | string, options: { delayMs?: number } = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true })
    const chunks: Buffer[] = []
    socket.setTimeout(30_000, () => socket.destroy(new Error('test socket timed out')))
    socket.on('data', (c: Buffer) => chunks.push(c))
    socket.on('end', () => { resolve(Buffer.concat(chunks)); socket.end() })
    socket.on('error', reject)
    socket.on('connect', () => {
      if (options.delayMs === undefined) socket.end(input)
      else setTimeout(() => socket.end(input), options.delayMs)
    })
  })
}

for (const transport of pairTransports()) {
  describe(`raw TCP through the pair over ${transport.label}`, { skip: transport.skip, timeout: 120_000 }, () => {
    let pair: Pair
    before(async () => { pair = await startPair({ transport: transport.name, dataPlane: transport.dataPlane }) })
    after(async () => { await pair?.close() })

    it('echoes bytes on a tcp listener, and the half-close travels both ways', async () => {
      const reply = await exchange(pair.tcpPort, 'hello through the mesh')
      assert.equal(reply.toString(), 'hello through the mesh')
    })

    it('keeps the other direction open after the client half-closes', async () => {
    // The echo server answers only after it sees our FIN arrive through the tunnel; if the
    // half-close closed both directions we would get nothing back.
      const socket = net.connect({ host: '127.0.0.1', port: pair.tcpPort, allowHalfOpen: true })
      const chunks: Buffer[] = []
      const done = new Promise<string>((resolve, reject) => {
        socket.on('data', (c: Buffer) => chunks.push(c))
        socket.on('end', () => resolve(Buffer.concat(chunks).toString()))
        socket.on('error', reject)
        socket.setTimeout(10_000, () => socket.destroy(new Error('timed out')))
      })
      socket.write('part one, ')
      await new Promise((resolve) => setTimeout(resolve, 100))
      socket.end('part two')
      assert.equal(await done, 'part one, part two')
      socket.destroy()
    })

    it('carries 100 MB each way with checksums intact', async () => {
      const size = 100 * 1024 * 1024
      const source = patternStream(size, 7)
      const socket = net.connect({ host: '127.0.0.1', port: pair.tcpPort, allowHalfOpen: true })
      const hash = createHash('sha256')
      let received = 0
      await new Promise<void>((resolve, reject) => {
        socket.setTimeout(60_000, () => socket.destroy(new Error('timed out')))
        socket.on('data', (c: Buffer) => { received += c.length; hash.update(c) })
        socket.on('end', () => resolve())
        socket.on('error', reject)
        source.stream.pipe(socket)
      })
      socket.destroy()
      assert.equal(received, size)
      assert.equal(hash.digest('hex'), source.sha256())
      assert.deepEqual(sessionTransports(pair), [transport.name])
    })

    it('carries four one-way 30 MB transfers at once on one session (iperf3 -P4 shape)', async () => {
      // A sink answers with the byte count once the sender half-closes: data flows one way only,
      // which is where a session that stops flushing shows (the echo test would not).
      const sink = net.createServer({ allowHalfOpen: true }, (socket) => {
        let n = 0
        socket.on('data', (c: Buffer) => { n += c.length })
        socket.on('end', () => socket.end(String(n)))
      })
      await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve))
      const sinkPair = await startPair({ transport: transport.name, dataPlane: transport.dataPlane, tcpTarget: `127.0.0.1:${(sink.address() as net.AddressInfo).port}` })
      try {
        const size = 30 * 1024 * 1024
        const counts = await Promise.all([0, 1, 2, 3].map(async () => (await exchange(sinkPair.tcpPort, Buffer.alloc(size, 3))).toString()))
        assert.deepEqual(counts, [String(size), String(size), String(size), String(size)])
        assert.equal(new Set(sinkPair.client.outbound?.pool.sessions().map((s) => s) ?? []).size, 1)
      } finally {
        await sinkPair.close()
        sink.close()
      }
    })

    it('splices tunnels natively (engine or QUIC addon) on the native data plane only, and reports their bytes', async () => {
      const sessions = pair.client.outbound?.pool.sessions() ?? []
      assert.ok(sessions.length > 0)
      for (const session of sessions) assert.equal(session.spliceTunnel !== undefined, transport.dataPlane === 'native')
      const payload = Buffer.alloc(300_000, 5)
      const before = await tunnelBytes(pair)
      // Bytes the outbound's accepted app sockets hand to JS ('data' events): none when spliced.
      const crossed = countAppSocketBytes(pair.tcpPort)
      let reply: Buffer
      try {
        reply = await exchange(pair.tcpPort, payload)
      } finally {
        crossed.stop()
      }
      assert.equal(reply.length, payload.length)
      if (transport.dataPlane === 'native') assert.equal(crossed.bytes, 0, 'no byte of a spliced tunnel reaches JS')
      else assert.equal(crossed.bytes, payload.length, 'the JS path reads the app socket in JS')
      const after = await tunnelBytes(pair)
      assert.equal(after - before, payload.length)
    })
  })
}

for (const transport of pairTransports()) {
  describe(`TCP tunnel failures over ${transport.label}`, { skip: transport.skip, timeout: 60_000 }, () => {
    it('closes the app connection on a refused target and on an idle tunnel, each under its code; other tunnels are unaffected', async () => {
      // Port 1 (tcpmux), where nothing listens, as the pair's own `nowhere` service: a port just
      // freed by a closed listener can be handed to one of the pair's own listeners (the demo
      // app's HTTP port answered the tunnel with node's 47-byte 400 once).
      const refused = await startPair({ transport: transport.name, dataPlane: transport.dataPlane, tcpTarget: '127.0.0.1:1' })
      try {
        // The app sees its connection reset (as a direct connect to a dead port would be) and no byte.
        const socket = net.connect({ host: '127.0.0.1', port: refused.tcpPort })
        let got = 0
        socket.on('data', (c: Buffer) => { got += c.length })
        socket.setTimeout(10_000, () => socket.destroy(new Error('test socket timed out')))
        const error = await new Promise<string>((resolve) => {
          socket.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message))
          socket.on('close', () => resolve('closed'))
          socket.write('nobody listens')
        })
        assert.ok(error === 'ECONNRESET' || error === 'closed', `reset or closed, not ${error}`)
        assert.equal(got, 0)
        assert.ok(await closeCount(refused.server, 'inbound', 'E_UPSTREAM_UNREACHABLE') >= 1, 'the inbound counts the refused tunnel as closed, under its code')
        assert.ok(!(await refused.server.metrics.registry.metrics()).split('\n').some((l) => l.startsWith('meshgate_tcp_open_connections{') && !l.endsWith(' 0')), 'no tunnel is left open')
      } finally {
        await refused.close()
      }
      const idle = await startPair({ transport: transport.name, dataPlane: transport.dataPlane, outboundExtra: 'timeouts: { idleMs: 300ms }' })
      try {
        const socket = net.connect({ host: '127.0.0.1', port: idle.tcpPort })
        socket.on('error', () => {})
        let echoed = ''
        socket.on('data', (c: Buffer) => { echoed += c.toString() })
        const started = Date.now()
        socket.write('wake')
        const closedAfter = await new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now() - started)))
        assert.equal(echoed, 'wake')
        assert.ok(closedAfter >= 250 && closedAfter < 10_000, `closed by the idle timeout (${closedAfter} ms)`)
        assert.ok(await closeCount(idle.client, 'outbound', 'E_IDLE_TIMEOUT') >= 1, 'the outbound counts the idle close')
        assert.equal((await exchange(idle.tcpPort, 'still fine')).toString(), 'still fine', 'a new tunnel on the same pair works')
      } finally {
        await idle.close()
      }
    })
  })
}

/**
 * meshgate_tcp_close_total of one side for one error code, summed over authorities; the close is
 * recorded once the tunnel's far side has closed too, so it is polled for up to 5 s (50 tries).
 */
async function closeCount (side: Pair['client'], direction: string, code: string): Promise<number> {
  let sum = 0
  for (let attempt = 0; attempt < 50 && sum === 0; attempt++) {
    if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 100))
    const text = await side.metrics.registry.metrics()
    for (const line of text.split('\n')) {
      if (line.startsWith('meshgate_tcp_close_total{') && line.includes(`direction="${direction}"`) && line.includes(`error_code="${code}"`)) sum += Number(line.split(' ').pop())
    }
  }
  return sum
}

/**
 * Counts the bytes of 'data' events on sockets accepted on `port` (the outbound's app sockets;
 * the test's own client sockets have it as their remote port) until stop().
 */
function countAppSocketBytes (port: number): { readonly bytes: number, stop: () => void } {
  const original = net.Socket.prototype.emit
  const counter = { bytes: 0, stop: () => { net.Socket.prototype.emit = original } }
  net.Socket.prototype.emit = function (this: net.Socket, event: string | symbol, ...args: unknown[]): boolean {
    const chunk = args[0]
    if (event === 'data' && this.localPort === port && Buffer.isBuffer(chunk)) counter.bytes += chunk.length
    return Reflect.apply(original, this, [event, ...args]) as boolean
  }
  return counter
}

/** meshgate_tcp_read_bytes_total of the outbound side, summed (counted as tunnels close). */
async function tunnelBytes (pair: Pair): Promise<number> {
  const text = await pair.client.metrics.registry.metrics()
  let sum = 0
  for (const line of text.split('\n')) {
    if (line.startsWith('meshgate_tcp_read_bytes_total{') && line.includes('direction="outbound"')) sum += Number(line.split(' ').pop())
  }
  return sum
}
