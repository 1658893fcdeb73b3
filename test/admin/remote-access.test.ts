// An admin server on a pod address (as in Kubernetes, where the kubelet probes it): callers from
// the pod network get the probes and metrics only; /shutdown, /log-level, /config and /tap answer
// them 403, while loopback callers in the pod keep everything. Two namespaces of the test's own,
// joined by one veth pair (test/helpers/netns.ts).
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CLI } from '../helpers/meshgate-process.js'
import { createPods, deletePods, inPod, netnsSkip, spawnInPod, type NetnsPod } from '../helpers/netns.js'

const ADMIN = 4191

async function curlIn (pod: NetnsPod, args: string[]): Promise<{ status: number, body: string }> {
  const r = await inPod(pod, ['curl', '-s', '--max-time', '5', '-w', '\n%{http_code}', ...args], { timeoutMs: 15_000 })
  const at = r.stdout.lastIndexOf('\n')
  return { status: Number(r.stdout.slice(at + 1)), body: r.stdout.slice(0, at) }
}

async function adminUp (pod: NetnsPod, host: string, deadlineMs: number, output: () => string): Promise<void> {
  const deadline = Date.now() + deadlineMs
  while (Date.now() < deadline) {
    if ((await curlIn(pod, [`http://${host}:${ADMIN}/live`])).status === 200) return
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  throw new Error(`admin not up on ${host}:${ADMIN}:\n${output()}`)
}

for (const remoteAccess of ['read', 'full'] as const) {
  describe(`admin on a pod address, remoteAccess: ${remoteAccess}`, { skip: netnsSkip() }, () => {
    let dir: string
    let a: NetnsPod
    let b: NetnsPod
    let proxy: ReturnType<typeof spawnInPod> | undefined
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'mg-admin-remote-'))
      ;[a, b] = createPods(remoteAccess === 'read' ? 211 : 212)
      const pki = join(dir, 'pki')
      const file = join(dir, 'admin.yaml')
      await writeFile(file, `devPki: { dir: ${pki}, workloads: [server] }
inbound:
  tls: { ca: ${pki}/ca.crt, cert: ${pki}/server.crt, key: ${pki}/server.key }
  listeners: [{ host: 127.0.0.1, port: 4143 }]
  targets: [{ address: 127.0.0.1:8080, allow: [spiffe://mesh.local/ns/default/sa/client] }]
admin: { host: 0.0.0.0, port: ${ADMIN}${remoteAccess === 'full' ? ', remoteAccess: full' : ''} }
log: { level: warn }
`)
      proxy = spawnInPod(a, [process.execPath, CLI, 'run', file])
      await adminUp(a, '127.0.0.1', 20_000, proxy.output)
    })
    after(async () => {
      proxy?.kill('SIGKILL')
      deletePods()
      await rm(dir, { recursive: true, force: true })
    })

    it('probes and metrics answer a caller from the pod network', async () => {
      assert.equal((await curlIn(b, [`http://${a.ip}:${ADMIN}/ready`])).status, 200)
      assert.equal((await curlIn(b, [`http://${a.ip}:${ADMIN}/live`])).status, 200)
      const metrics = await curlIn(b, [`http://${a.ip}:${ADMIN}/metrics`])
      assert.equal(metrics.status, 200)
      assert.match(metrics.body, /^# HELP meshgate_/m)
    })

    it(remoteAccess === 'read' ? 'the rest answers 403 off the machine, and stays whole for loopback callers' : 'everything answers a caller from the pod network', async () => {
      const remote = [
        await curlIn(b, [`http://${a.ip}:${ADMIN}/config`]),
        await curlIn(b, [`http://${a.ip}:${ADMIN}/log-level`]),
        await curlIn(b, ['-X', 'PUT', '--data', 'debug', `http://${a.ip}:${ADMIN}/log-level`]),
        await curlIn(b, [`http://${a.ip}:${ADMIN}/`]),
      ]
      if (remoteAccess === 'read') {
        for (const r of remote) {
          assert.equal(r.status, 403)
          assert.match(r.body, /served to loopback callers only \(admin\.remoteAccess: full/)
        }
        const shutdown = await curlIn(b, ['-X', 'POST', `http://${a.ip}:${ADMIN}/shutdown`])
        assert.equal(shutdown.status, 403)
        assert.equal(proxy?.exitCode, null)
        // The same server, asked from inside the pod over loopback.
        const local = await curlIn(a, [`http://127.0.0.1:${ADMIN}/config`])
        assert.equal(local.status, 200)
        assert.match(local.body, /"remoteAccess": "read"/)
        assert.equal((await curlIn(a, [`http://127.0.0.1:${ADMIN}/log-level`])).status, 200)
      } else {
        const [config, level, setLevel, dashboard] = remote.map((r) => r.status)
        assert.deepEqual([config, level, dashboard], [200, 200, 200])
        assert.ok(setLevel !== undefined && setLevel >= 200 && setLevel < 300, `PUT /log-level: ${String(setLevel)}`)
        assert.match(remote[0]?.body ?? '', /"remoteAccess": "full"/)
      }
    })
  })
}
