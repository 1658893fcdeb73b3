// Identity rotation at a multi-cluster gateway (a real `meshgate run` process): its certificate
// rotated by write-then-rename is what new callers' handshakes see, traffic west → gateway → east
// keeps flowing, and the gateway's metrics count the reload and follow the new notAfter.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { loadCertificateAuthority } from '../../core/identity/pki.js'
import { get } from '../helpers/clients.js'
import { eventually, startClusters, type Clusters } from '../helpers/clusters.js'
import { metricSum, metricsText } from '../helpers/meshgate-process.js'
import { presentedSerial, replaceFile, serialOf } from '../helpers/rotate.js'

const GATEWAY = 'spiffe://east.local/ns/default/sa/gateway'

describe('identity rotation at the gateway', { timeout: 120_000 }, () => {
  let c: Clusters
  before(async () => { c = await startClusters({ transport: 'h2', dataPlane: 'js', h3Listeners: false }) })
  after(async () => { await c.close() })

  it('new callers see the rotated gateway certificate; traffic goes on; the metrics follow', async () => {
    await eventually(async () => (await get(c.ports.app, '/', 'web.east', 10_000)).status === 200, 'west to reach web.east')
    const pki = join(c.dir, 'pki', 'east.local')
    const eastCa = await readFile(join(pki, 'ca.crt'), 'utf8')
    const before = await presentedSerial(c.ports.gateway, eastCa)
    assert.equal(before, serialOf(await readFile(join(pki, 'gateway.crt'), 'utf8')))

    const ca = await loadCertificateAuthority({ cert: eastCa, key: await readFile(join(pki, 'ca.key'), 'utf8') })
    const notAfter = new Date(Date.now() + 10 * 86_400_000)
    const next = await ca.issue(GATEWAY, { dnsNames: ['localhost'], notAfter })
    await replaceFile(join(pki, 'gateway.key'), next.key)
    await replaceFile(join(pki, 'gateway.crt'), next.cert)
    await eventually(async () => await presentedSerial(c.ports.gateway, eastCa) === serialOf(next.cert), 'the gateway to present the new certificate')

    const text = await metricsText(c.ports.gatewayAdmin)
    assert.equal(metricSum(text, 'meshgate_identity_reloads_total', { role: 'gateway' }), 1)
    const expiry = metricSum(text, 'meshgate_identity_expiry_seconds', { role: 'gateway' })
    assert.ok(Math.abs(expiry - 10 * 86_400) < 300, `expiry ${expiry}`)
    for (let i = 0; i < 5; i++) assert.equal((await get(c.ports.app, '/', 'web.east', 10_000)).status, 200)
  })
})
