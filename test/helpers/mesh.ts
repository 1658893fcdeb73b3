/**
 * A small mesh on loopback for discovery and balancing tests: N upstream "pods", each an HTTP
 * workload behind its own inbound meshgate on its own loopback address (127.0.0.2, .3, …) with
 * the same peer port and workload port everywhere — the shape DNS A records and EndpointSlices
 * describe — and one outbound meshgate whose services and discovery sources the test writes.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino, type Logger } from 'pino'
import { Agent, request } from 'undici'
import { parseConfig } from '../../src/config/load.js'
import type { DataPlaneSetting } from '../../src/config/types.js'
import { startProxy, type RunningProxy } from '../../src/proxy.js'
import { makePki, type TestPki } from './pki.js'

/** One upstream pod: a workload answering with its name (`/fail`: 500 from the app), and the inbound proxy in front of it. */
export interface Pod {
  name: string
  /** Loopback address of both the workload and the inbound proxy. */
  host: string
  /** `host:peerPort`, the inbound proxy. */
  peer: string
  /** `host:appPort`, the workload. */
  target: string
  /** Added delay before the workload answers, ms; may be changed while running. */
  delayMs: number
  /** Requests the workload answered. */
  served: number
  /** Stops the inbound proxy and the workload abruptly (a pod killed). Safe twice. */
  kill: () => Promise<void>
}

export interface Mesh {
  pki: TestPki
  dir: string
  pods: Pod[]
  /** Peer port shared by every pod's inbound proxy. */
  peerPort: number
  /** Workload port shared by every pod. */
  appPort: number
  /** SPIFFE ID every pod's inbound proxy presents. */
  identity: string
  /** Starts one more pod on the next loopback address (same ports). */
  addPod: (delayMs?: number) => Promise<Pod>
  /** Closes the outbound proxy (if started), every pod and the files. */
  close: () => Promise<void>
}

export interface Client {
  proxy: RunningProxy
  /** The outbound `auto` listener. */
  port: number
  /** The outbound `tcp` listener (tcpService from the YAML's `tcpService`). */
  tcpPort: number
  close: () => Promise<void>
}

const silent = pino({ level: process.env.MESHGATE_TEST_LOG ?? 'silent' })

async function listenHttp (server: Server, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => { server.off('error', reject); resolve() })
  })
  return (server.address() as AddressInfo).port
}

async function writeTls (dir: string, name: string, pki: TestPki): Promise<string> {
  const tls = await pki.workload(name)
  await writeFile(join(dir, `${name}.crt`), tls.cert)
  await writeFile(join(dir, `${name}.key`), tls.key, { mode: 0o600 })
  await writeFile(join(dir, 'ca.crt'), tls.ca)
  return `{ ca: ${join(dir, 'ca.crt')}, cert: ${join(dir, `${name}.crt`)}, key: ${join(dir, `${name}.key`)} }`
}

export interface MeshOptions {
  /** `dataPlane:` of every pod's inbound proxy (default: unset, i.e. `auto`); see DATA_PLANES. */
  dataPlane?: DataPlaneSetting
}

/** The `dataPlane:` line of a generated config ('' leaves the config default). */
function dataPlaneLine (dataPlane: DataPlaneSetting | undefined): string {
  return dataPlane === undefined ? '' : `dataPlane: ${dataPlane}`
}

/**
 * Starts `delays.length` pods on 127.0.0.2, 127.0.0.3, … The first pod picks free ports; the
 * others bind the same ports on their own address.
 */
export async function startMesh (delays: number[], options: MeshOptions = {}): Promise<Mesh> {
  const pki = await makePki()
  const dir = await mkdtemp(join(tmpdir(), 'meshgate-mesh-'))
  const serverTls = await writeTls(dir, 'server', pki)
  const allow = `spiffe://${pki.id('x').split('/')[2] ?? ''}`
  const pods: Pod[] = []
  let peerPort = 0
  let appPort = 0

  const addPod = async (delayMs = 0): Promise<Pod> => {
    const host = `127.0.0.${pods.length + 2}`
    const pod: Pod = { name: `pod-${pods.length + 1}`, host, peer: '', target: '', delayMs, served: 0, kill: async () => {} }
    const timers = new Set<NodeJS.Timeout>()
    const workload = createServer((req, res) => {
      req.resume()
      const answer = (): void => {
        pod.served++
        res.statusCode = req.url === '/fail' ? 500 : 200
        res.setHeader('content-type', 'text/plain')
        res.end(pod.name)
      }
      if (pod.delayMs <= 0) { answer(); return }
      const timer = setTimeout(() => { timers.delete(timer); answer() }, pod.delayMs)
      timers.add(timer)
    })
    appPort = await listenHttp(workload, host, appPort)
    pod.target = `${host}:${appPort}`
    const yaml = `
log: { level: silent }
${dataPlaneLine(options.dataPlane)}
admin: false
inbound:
  tls: ${serverTls}
  listeners: [{ host: ${host}, port: ${peerPort} }]
  targets: [{ address: "${pod.target}", protocol: auto, allow: ["${allow}"] }]
`
    let proxy: RunningProxy
    try {
      proxy = await startProxy(parseConfig(yaml, join(dir, `${pod.name}.yaml`)), silent)
    } catch (err) {
      workload.close()
      throw err
    }
    peerPort = proxy.inbound?.addresses()[0]?.port ?? 0
    pod.peer = `${host}:${peerPort}`
    let killed: Promise<void> | undefined
    pod.kill = async () => {
      killed ??= (async () => {
        for (const t of timers) clearTimeout(t)
        await proxy.close()
        workload.closeAllConnections()
        await new Promise((resolve) => workload.close(resolve))
      })()
      await killed
    }
    pods.push(pod)
    return pod
  }

  try {
    for (const delay of delays) await addPod(delay)
  } catch (err) {
    await Promise.allSettled(pods.map(async (p) => await p.kill()))
    await rm(dir, { recursive: true, force: true })
    throw err
  }
  return {
    pki,
    dir,
    pods,
    get peerPort () { return peerPort },
    get appPort () { return appPort },
    identity: pki.id('server'),
    addPod,
    close: async () => {
      await Promise.allSettled(pods.map(async (p) => await p.kill()))
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/**
 * Starts the outbound proxy: `yaml` holds its `services` (and `discovery`, `balancing`) sections.
 * It gets an `http1` listener, plus a `tcp` listener to `tcpService` when one is named.
 * `logger` defaults to silent; `dataPlane` (default unset, i.e. `auto`) goes into its config.
 */
export async function startClient (mesh: Mesh, yaml: string, options: { logger?: Logger, tcpService?: string, dataPlane?: DataPlaneSetting } = {}): Promise<Client> {
  const clientTls = await writeTls(mesh.dir, 'client', mesh.pki)
  const listeners = options.tcpService === undefined
    ? '[{ name: app, host: 127.0.0.1, port: 0, protocol: http1 }]'
    : `[{ name: app, host: 127.0.0.1, port: 0, protocol: http1 }, { name: tcp, host: 127.0.0.1, port: 0, protocol: tcp, tcpService: ${options.tcpService} }]`
  const text = `
log: { level: silent }
${dataPlaneLine(options.dataPlane)}
admin: { host: 127.0.0.1, port: 0 }
outbound:
  tls: ${clientTls}
  listeners: ${listeners}
${yaml}
`
  const proxy = await startProxy(parseConfig(text, join(mesh.dir, 'client.yaml')), options.logger ?? silent)
  const ports = proxy.outbound?.listeners.map((l) => l.address().port) ?? []
  return { proxy, port: ports[0] ?? 0, tcpPort: ports[1] ?? 0, close: async () => { await proxy.close() } }
}

/** One request's outcome: which pod answered (its body), or the meshgate error code. */
export interface Outcome {
  status: number
  pod: string | undefined
  error: string | undefined
  /** Index of the request in the run. */
  index: number
}

/**
 * Sends `total` GETs with `concurrency` in flight through the client's listener with Host
 * `authority` to `path`; `beforeEach(i)` runs (and is awaited) before request i is sent.
 */
export async function drive (client: Client, authority: string, total: number, concurrency: number, beforeEach: (i: number) => Promise<void> | void = () => {}, path = '/'): Promise<Outcome[]> {
  const agent = new Agent({ connections: concurrency, pipelining: 1 })
  const outcomes: Outcome[] = []
  let next = 0
  try {
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const index = next++
        await beforeEach(index)
        try {
          const res = await request(`http://127.0.0.1:${client.port}${path}`, { dispatcher: agent, headers: { host: authority }, headersTimeout: 30_000, bodyTimeout: 30_000 })
          const body = await res.body.text()
          const error = res.headers['meshgate-error']
          outcomes.push({ status: res.statusCode, pod: error === undefined ? body : undefined, error: typeof error === 'string' ? error : undefined, index })
        } catch (err) {
          outcomes.push({ status: 0, pod: undefined, error: (err as Error).message, index })
        }
      }
    }))
  } finally {
    await agent.close()
  }
  return outcomes.sort((a, b) => a.index - b.index)
}

/** Requests answered per pod name. */
export function share (outcomes: readonly Outcome[]): Map<string, number> {
  const counts = new Map<string, number>()
  for (const o of outcomes) if (o.pod !== undefined) counts.set(o.pod, (counts.get(o.pod) ?? 0) + 1)
  return counts
}

/**
 * Sends requests (`concurrency` at a time) until `check(outcomes so far)` holds; rejects after
 * `maxRequests` (a bound so a regression fails instead of hanging).
 */
export async function driveUntil (client: Client, authority: string, check: (outcomes: Outcome[]) => boolean, maxRequests: number, pauseMs = 20): Promise<Outcome[]> {
  const all: Outcome[] = []
  while (all.length < maxRequests) {
    const batch = await drive(client, authority, 4, 2)
    for (const o of batch) all.push({ ...o, index: all.length })
    if (check(all)) return all
    await new Promise((resolve) => setTimeout(resolve, pauseMs))
  }
  throw new Error(`condition not met after ${maxRequests} requests; last pods: ${all.slice(-8).map((o) => o.pod ?? o.error).join(', ')}`)
}

/**
 * Resolves once the client's `meshgate_discovery_endpoints{source,service}` gauge reads `count`
 * (the source has published that set and the balancer has it); rejects after `timeoutMs`.
 */
export async function waitForEndpoints (client: Client, source: string, service: string, count: number, timeoutMs = 10_000): Promise<void> {
  const line = `meshgate_discovery_endpoints{source="${source}",service="${service}"} ${count}\n`
  const deadline = Date.now() + timeoutMs
  while (!(await client.proxy.metrics.registry.metrics()).includes(line)) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${line.trim()}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Pods that answered, sorted. */
export function podsOf (outcomes: readonly Outcome[]): string[] {
  return [...share(outcomes).keys()].sort()
}

/** A driveUntil check: every one of `pods` has answered at least once. */
export const sawAll = (pods: string[]) => (all: Outcome[]): boolean => pods.every((p) => all.some((o) => o.pod === p))
