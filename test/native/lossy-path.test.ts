/**
 * h3's default congestion control on a lossy path: two network namespaces made by the test, each
 * dropping 2 % of the UDP datagrams it receives (iptables' statistic match on INPUT), and an
 * upload over the QUIC addon tuned as meshgate's h3 transport is by default. Every byte must
 * arrive, in order, once, with losses actually seen and recovered by the session.
 *
 * The addon sends with UDP GSO, and netfilter's OUTPUT hook sees one GSO send (up to 44 packets)
 * as one packet. So each veth takes at most one segment per send (`gso_max_segs 1`): the kernel
 * splits the batch before the veth, and the peer's INPUT rule sees every datagram.
 */
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { makePki } from '../helpers/pki.js'
import { createPods, deletePods, inPod, netnsSkip, spawnInPod, type NetnsPod } from '../helpers/netns.js'
import { SKIP } from './helpers.js'
import { H3_DEFAULTS } from '../../transports/h3/options.js'

const PEER = fileURLToPath(new URL('./lossy-peer.js', import.meta.url))
const UPLOAD_BYTES = 8 * 1024 * 1024
const DROP_PROBABILITY = '0.02'
const skip = SKIP !== false ? SKIP : netnsSkip()

let a: NetnsPod
let b: NetnsPod
let dir: string
let server: ReturnType<typeof spawnInPod> | undefined

before(async () => {
  if (skip !== false) return
  ;[a, b] = createPods(221)
  dir = await mkdtemp(join(tmpdir(), 'mg-lossy-'))
  await chmod(dir, 0o755)
  const pki = await makePki()
  for (const name of ['server', 'client']) await writeFile(join(dir, `${name}.json`), JSON.stringify(await pki.workload(name)))
  for (const pod of [a, b]) {
    const link = await inPod(pod, ['ip', 'link', 'set', 'dev', await vethOf(pod), 'gso_max_segs', '1'])
    assert.equal(link.code, 0, link.stderr)
    const r = await inPod(pod, ['iptables', '-A', 'INPUT', '-p', 'udp', '-m', 'statistic', '--mode', 'random', '--probability', DROP_PROBABILITY, '-j', 'DROP'])
    assert.equal(r.code, 0, r.stderr)
  }
})

after(async () => {
  if (skip !== false) return
  server?.kill('SIGKILL')
  deletePods()
  await rm(dir, { recursive: true, force: true })
})

test(`an upload over h3's default congestion control (${H3_DEFAULTS.congestionControl}) survives 2 % loss intact`, { skip, timeout: 90_000 }, async () => {
  server = spawnInPod(a, [process.execPath, PEER, 'server', join(dir, 'server.json'), a.ip])
  const [line] = await Promise.race([
    once(server.stdout!, 'data') as Promise<[Buffer]>,
    once(server, 'exit').then(() => { throw new Error(`the server exited:\n${server?.output() ?? ''}`) }),
  ])
  const { port } = JSON.parse(String(line)) as { port: number }
  const r = await inPod(b, [process.execPath, PEER, 'client', join(dir, 'client.json'), a.ip, String(port), String(UPLOAD_BYTES)], { timeoutMs: 70_000 })
  assert.equal(r.code, 0, `client failed: ${r.stderr}\nserver: ${server.output()}`)
  const result = JSON.parse(r.stdout.trim().split('\n').at(-1) ?? '{}') as { answer: string, sent: string, lostPackets: number, probeTimeouts: number, congestionControl: string }
  assert.equal(result.congestionControl, H3_DEFAULTS.congestionControl)
  // The server's count and SHA-256 of what it read equal what the client wrote.
  assert.equal(result.answer, result.sent)
  assert.match(result.sent, new RegExp(`^${UPLOAD_BYTES} [0-9a-f]{64}$`))
  // The server's rule dropped some of the ~5,800 data packets. (The client's sees only the
  // server's few acknowledgement packets, so it may drop none in a run.)
  const dropped = [await droppedBy(a), await droppedBy(b)]
  assert.ok(dropped[0] > 0, `dropped (server, client): ${dropped.join(', ')}`)
  // They hit the stream's packets, and the session declared them lost and sent them again.
  assert.ok(result.lostPackets > 0, `no stream packet was declared lost (dropped: ${dropped.join(', ')}): ${r.stdout}`)
})

/** The pod's end of the veth pair. */
async function vethOf (pod: NetnsPod): Promise<string> {
  const r = await inPod(pod, ['ip', '-o', 'link', 'show', 'type', 'veth'])
  const name = /^\d+: ([^@:]+)/.exec(r.stdout)?.[1]
  assert.ok(name !== undefined, `no veth in ${pod.name}: ${r.stdout}${r.stderr}`)
  return name
}

/** Packets the pod's statistic DROP rule has dropped (`iptables -L -v -x`: first column). */
async function droppedBy (pod: NetnsPod): Promise<number> {
  const r = await inPod(pod, ['iptables', '-L', 'INPUT', '-v', '-n', '-x'])
  assert.equal(r.code, 0, r.stderr)
  const rule = r.stdout.split('\n').find((l) => l.includes('DROP') && l.includes('statistic'))
  assert.ok(rule !== undefined, r.stdout)
  return Number(rule.trim().split(/\s+/)[0])
}
