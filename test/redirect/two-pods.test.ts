// Two "pods" (network namespaces joined by one veth pair), each with an app and its meshgate
// behind `meshgate redirect install`. The apps are unchanged: curl and a plain TCP client dial
// the other pod's IP:port; the redirect sends them through both sidecars over mTLS, which both
// proxies' metrics and the caller identity the server app sees show. An address no service
// names passes through as plain TCP. Once per data plane (js, native).
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { makePki } from '../helpers/pki.js'
import { DATA_PLANES } from '../helpers/transports.js'
import { createPods, deletePods, inPod, netnsSkip, spawnInPod, type NetnsPod } from '../helpers/netns.js'
import type { ChildProcess } from 'node:child_process'

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url))
const APP = fileURLToPath(new URL('./pod-app.js', import.meta.url))
const TCP_CLIENT = fileURLToPath(new URL('./tcp-client.js', import.meta.url))
/** The proxies run as this UID; the redirect lets its traffic out as it is. */
const PROXY_UID = 65534
const SERVICE_IP = '198.18.99.10'

/** Polls `check` (bounded: 100 tries, 100 ms apart). */
async function eventually (what: string, check: () => Promise<boolean>, output: () => string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  assert.fail(`${what} did not happen in 10 s; output:\n${output()}`)
}

function sampleValue (metrics: string, name: string, labels: Record<string, string>): number {
  let total = 0
  for (const line of metrics.split('\n')) {
    if (!line.startsWith(`${name}{`)) continue
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) total += Number(line.split(' ').pop())
  }
  return total
}

DATA_PLANES.forEach((plane, index) => {
  describe(`two pods with transparent redirect (${plane.name} data plane)`, { skip: netnsSkip() || plane.skip }, () => {
    let a: NetnsPod
    let b: NetnsPod
    let dir: string
    const children: Array<ChildProcess & { output: () => string }> = []
    const logs = (): string => children.map((c) => c.output()).join('\n---\n')
    let clientId: string

    before(async () => {
      [a, b] = createPods(202 + index, [`${SERVICE_IP}/32`])
      dir = await mkdtemp(join(tmpdir(), 'mg14-pods-'))
      await chmod(dir, 0o755)
      const pki = await makePki()
      clientId = pki.id('client')
      const files = async (name: string): Promise<{ ca: string, cert: string, key: string }> => {
        const m = await pki.workload(name)
        const out = { ca: join(dir, `${name}-ca.crt`), cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) }
        await writeFile(out.ca, m.ca)
        await writeFile(out.cert, m.cert)
        await writeFile(out.key, m.key, { mode: 0o644 })
        return out
      }
      const [clientTls, serverTls] = [await files('client'), await files('server')]
      const endpoint = (port: number): string => `[{ peer: "${b.ip}:4143", identity: "${pki.id('server')}", target: "${b.ip}:${port}", transport: h2 }]`
      await writeFile(join(dir, 'a.yaml'), `dataPlane: ${plane.name}
log: { level: debug }
outbound:
  tls: { ca: ${clientTls.ca}, cert: ${clientTls.cert}, key: ${clientTls.key} }
  listeners:
    - { name: transparent, host: 0.0.0.0, port: 4140, protocol: auto, originalDestination: true }
services:
  web: { aliases: ["${SERVICE_IP}:80"], endpoints: ${endpoint(8080)} }
  web-h2: { endpoints: ${endpoint(8081)} }
  echo: { endpoints: ${endpoint(9000)} }
admin: { host: 127.0.0.1, port: 4191 }
`)
      const allow = `[${clientId}]`
      await writeFile(join(dir, 'b.yaml'), `dataPlane: ${plane.name}
inbound:
  tls: { ca: ${serverTls.ca}, cert: ${serverTls.cert}, key: ${serverTls.key} }
  listeners: [{ host: 0.0.0.0, port: 4143, h3: false }]
  targets:
    - { address: "${b.ip}:8080", protocol: http1, allow: ${allow} }
    - { address: "${b.ip}:8081", protocol: http2, allow: ${allow} }
    - { address: "${b.ip}:9000", protocol: tcp, allow: ${allow} }
admin: { host: 127.0.0.1, port: 4191 }
`)
      // The init containers' job, then the sidecars (as PROXY_UID) and the app of pod b.
      for (const [pod, extra] of [[a, []], [b, ['--app-ports', '8080,8081,9000']]] as const) {
        const r = await inPod(pod, [process.execPath, CLI, 'redirect', 'install', '--proxy-uid', String(PROXY_UID), ...extra])
        assert.equal(r.code, 0, r.stderr)
      }
      const app = spawnInPod(b, [process.execPath, APP])
      children.push(app)
      for (const [pod, file] of [[a, 'a.yaml'], [b, 'b.yaml']] as const) {
        children.push(spawnInPod(pod, [process.execPath, CLI, 'run', join(dir, file)], PROXY_UID))
      }
      await eventually('app ready', async () => app.output().includes('ready'), logs)
      for (const pod of [a, b]) {
        await eventually(`meshgate in ${pod.name} ready`, async () => (await inPod(pod, ['curl', '-s', '-o', '/dev/null', '-w', '%{http_code}', 'http://127.0.0.1:4191/ready'])).stdout === '200', logs)
      }
    })

    after(async () => {
      for (const child of children) child.kill('SIGKILL')
      deletePods()
      if (dir !== undefined) await rm(dir, { recursive: true, force: true })
    })

    const metricsOf = async (pod: NetnsPod): Promise<string> => (await inPod(pod, ['curl', '-s', 'http://127.0.0.1:4191/metrics'])).stdout

    it('HTTP/1: curl to the other pod\'s IP:port goes through both sidecars; the app sees the caller\'s identity', async () => {
      const r = await inPod(a, ['curl', '-s', '--max-time', '10', `http://${b.ip}:8080/hello`])
      assert.equal(r.code, 0, r.stderr + logs())
      const seen = JSON.parse(r.stdout) as { proto: string, clientId: string, remote: string }
      assert.equal(seen.proto, 'http1')
      assert.equal(seen.clientId, clientId)
      // Delivered by pod b's sidecar, not by pod a directly.
      assert.equal(seen.remote, b.ip)
      const [ma, mb] = [await metricsOf(a), await metricsOf(b)]
      assert.ok(sampleValue(ma, 'meshgate_requests_total', { direction: 'outbound', authority: `${b.ip}:8080`, status_code: '200' }) >= 1, ma)
      assert.ok(sampleValue(mb, 'meshgate_requests_total', { direction: 'inbound', status_code: '200', identity: clientId }) >= 1, mb)
    })

    it('h2c: curl --http2-prior-knowledge is carried as HTTP/2 end to end', async () => {
      const r = await inPod(a, ['curl', '-s', '--max-time', '10', '--http2-prior-knowledge', `http://${b.ip}:8081/`])
      assert.equal(r.code, 0, r.stderr + logs())
      const seen = JSON.parse(r.stdout) as { proto: string, clientId: string }
      assert.deepEqual([seen.proto, seen.clientId], ['h2', clientId])
      const mb = await metricsOf(b)
      assert.ok(sampleValue(mb, 'meshgate_requests_total', { direction: 'inbound', authority: `${b.ip}:8081`, identity: clientId }) >= 1, mb)
    })

    it('a Service IP (a service alias) routes to the service\'s endpoint', async () => {
      const r = await inPod(a, ['curl', '-s', '--max-time', '10', `http://${SERVICE_IP}/`])
      assert.equal(r.code, 0, r.stderr + logs())
      assert.equal((JSON.parse(r.stdout) as { clientId: string }).clientId, clientId)
    })

    it('TCP: a plain client\'s bytes travel in a CONNECT tunnel, counted by both sidecars', async () => {
      const r = await inPod(a, [process.execPath, TCP_CLIENT, b.ip, '9000', 'ping'])
      assert.equal(r.code, 0, r.stderr + logs())
      assert.equal(r.stdout, 'echo:ping\n')
      const [ma, mb] = [await metricsOf(a), await metricsOf(b)]
      assert.ok(sampleValue(ma, 'meshgate_tcp_open_total', { direction: 'outbound', authority: 'echo' }) >= 1, ma)
      assert.ok(sampleValue(mb, 'meshgate_tcp_open_total', { direction: 'inbound', identity: clientId }) >= 1, mb)
    })

    it('an address no service names passes through as plain TCP, via the sidecar', async () => {
      const r = await inPod(a, [process.execPath, TCP_CLIENT, b.ip, '7000', 'raw'])
      assert.equal(r.code, 0, r.stderr + logs())
      // Not tunnelled: the server sees pod a's own address.
      assert.equal(r.stdout, `plain:raw:from:${a.ip}`)
      await eventually('the pass-through log line', async () => children[1]?.output().includes(`"destination":"${b.ip}:7000"`) === true, logs)
      const mb = await metricsOf(b)
      assert.equal(sampleValue(mb, 'meshgate_tcp_open_total', { direction: 'inbound', authority: `${b.ip}:7000` }), 0)
    })
  })
})
