// The native h2 transport (the engine addon): the shared conformance suite unchanged, plus
// interop both ways with the JS h2 transport.
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { describe, it } from 'node:test'
import { MeshError } from '../../core/errors.js'
import type { TransportFactory } from '../../transports/contract.js'
import { h2Transport, type H2Options } from '../../transports/h2/index.js'
import { h2NativeTransport } from '../../transports/h2-native/index.js'
import { makePki } from '../helpers/pki.js'
import { quietLogger } from '../helpers/transport-rig.js'
import { nativeSkip } from '../helpers/transports.js'
import { runTransportConformance } from './conformance.js'

const SKIP = nativeSkip()

if (SKIP === false) {
  runTransportConformance('h2 (native engine)', async () => ({ transport: h2NativeTransport({ keepAliveMs: 1000 })({ logger: quietLogger }) }))
} else {
  it('transport conformance: h2 (native engine)', { skip: SKIP }, () => {})
}

describe('native h2 ↔ JS h2 interop', { timeout: 60_000, skip: SKIP }, () => {
  const pairs: Array<{ name: string, client: (o: H2Options) => TransportFactory, server: (o: H2Options) => TransportFactory }> = [
    { name: 'native client → JS server', client: h2NativeTransport, server: h2Transport },
    { name: 'JS client → native server', client: h2Transport, server: h2NativeTransport },
  ]
  for (const { name, client, server } of pairs) {
    it(`${name}: a request with a body, the caller's identity and trailers`, async () => {
      const pki = await makePki()
      const serverTls = await pki.workload('server')
      const clientTls = await pki.workload('client')
      const listener = await server({})({ logger: quietLogger }).listen({ host: '127.0.0.1', port: 0, tls: serverTls }, {
        request: (exchange) => {
          const chunks: Buffer[] = []
          exchange.body.on('data', (c: Buffer) => chunks.push(c))
          exchange.body.on('end', () => {
            const body = Buffer.concat(chunks)
            exchange.respond({ status: 201, headers: { 'x-caller': exchange.caller } }, Readable.from([body]), () => ({ 'x-sum': String(body.length) }))
          })
        },
        tunnel: (t) => t.reject(new MeshError('E_NO_ROUTE', 'no tunnels here')),
      })
      try {
        const session = await client({})({ logger: quietLogger }).connect({ address: listener.address(), expectedIdentity: pki.id('server'), tls: clientTls, connectTimeoutMs: 5000 })
        const response = await session.request({ method: 'POST', authority: 'svc', path: '/x', scheme: 'http', headers: {} }, Readable.from([Buffer.alloc(100_000, 1)]))
        assert.equal(response.head.status, 201)
        assert.equal(response.head.headers['x-caller'], pki.id('client'))
        let n = 0
        for await (const c of response.body) n += (c as Buffer).length
        assert.equal(n, 100_000)
        assert.equal(response.trailers()?.['x-sum'], '100000')
        await session.close()
      } finally {
        await listener.close()
      }
    })
  }
})
