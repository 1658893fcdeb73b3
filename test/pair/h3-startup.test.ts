// Start-up and h3: with the QUIC addon the inbound listener serves h3 on its h2 port; without it a config asking for h3 outright fails naming the apt packages.
import assert from 'node:assert/strict'
import { cp, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { run } from '../helpers/exec.js'
import { makePki } from '../helpers/pki.js'
import { startPair, type Pair } from '../helpers/pair.js'
import { h3Skip } from '../helpers/transports.js'

/** dist/test/pair → the repository root. */
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')

describe('start-up with the QUIC addon', { timeout: 30_000, skip: h3Skip() }, () => {
  let pair: Pair
  before(async () => { pair = await startPair({ transport: 'h3' }) })
  after(async () => { await pair?.close() })

  it('listens for h3 on the UDP port of its h2 listener', () => {
    const addresses = pair.server.inbound?.addresses() ?? []
    const h2 = addresses.find((a) => a.transport === 'h2')
    const h3 = addresses.find((a) => a.transport === 'h3')
    assert.ok(h2 !== undefined && h3 !== undefined, JSON.stringify(addresses))
    assert.equal(h3.port, h2.port)
  })
})

/** MESHGATE_QUIC_ADDON points the loader at an addon wherever dist/ is copied. */
const SKIP = process.env.MESHGATE_QUIC_ADDON === undefined ? false : 'MESHGATE_QUIC_ADDON is set: the copy would find the addon'

describe('start-up when the QUIC addon is not there', { timeout: 60_000, skip: SKIP }, () => {
  let dir: string
  let tlsYaml: string
  before(async () => {
    // A copy of dist/ without native/build next to it: the loader finds no addon there.
    dir = await mkdtemp(join(tmpdir(), 'meshgate-noaddon-'))
    await cp(join(REPO, 'dist'), join(dir, 'dist'), { recursive: true })
    await symlink(join(REPO, 'node_modules'), join(dir, 'node_modules'))
    await cp(join(REPO, 'package.json'), join(dir, 'package.json'))
    const pki = await makePki()
    const tls = await pki.workload('a')
    await writeFile(join(dir, 'a.crt'), tls.cert)
    await writeFile(join(dir, 'a.key'), tls.key, { mode: 0o600 })
    await writeFile(join(dir, 'ca.crt'), tls.ca)
    tlsYaml = `{ ca: ${join(dir, 'ca.crt')}, cert: ${join(dir, 'a.crt')}, key: ${join(dir, 'a.key')} }`
  })
  after(async () => { await rm(dir, { recursive: true, force: true }) })

  const start = async (name: string, yaml: string, timeoutMs: number): Promise<{ code: number | null, output: string }> => {
    const file = join(dir, `${name}.yaml`)
    await writeFile(file, yaml)
    const result = await run(process.execPath, [join(dir, 'dist', 'src', 'cli.js'), 'run', file], { timeoutMs })
    return { code: result.code, output: result.stdout + result.stderr }
  }

  it('an endpoint with transport: h3 fails at start with E_TRANSPORT_UNAVAILABLE, naming the path and the apt packages', async () => {
    const { code, output } = await start('h3-endpoint', `
log: { level: info }
admin: false
services:
  a: { endpoints: [{ peer: "127.0.0.1:1", identity: "spiffe://test.local/ns/default/sa/a", target: "127.0.0.1:2", transport: h3 }] }
outbound:
  tls: ${tlsYaml}
  listeners: [{ host: 127.0.0.1, port: 0 }]
`, 20_000)
    assert.notEqual(code, 0)
    assert.match(output, /E_TRANSPORT_UNAVAILABLE/)
    assert.match(output, /services\.a\.endpoints\[0\]\.transport asks for h3/)
    assert.match(output, /libngtcp2-dev/)
    assert.match(output, /native:build/)
  })

  it('an inbound listener with h3: true fails the same way', async () => {
    const { code, output } = await start('h3-listener', `
log: { level: info }
admin: false
inbound:
  tls: ${tlsYaml}
  listeners: [{ host: 127.0.0.1, port: 0, h3: true }]
  targets: [{ address: "127.0.0.1:2", allow: ["spiffe://test.local"] }]
`, 20_000)
    assert.notEqual(code, 0)
    assert.match(output, /inbound\.listeners\[0\]\.h3 asks for h3/)
    assert.match(output, /libnghttp3-dev/)
  })
})
