/**
 * Two clusters on loopback as three real `meshgate run` processes: a west outbound, an east
 * gateway and an east inbound, with their configs written to a temporary directory (dev PKI with
 * the trust domains west.local and east.local, ephemeral ports). The east workloads (the demo
 * upstream, a WebSocket echo) run in the test process.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { WebSocketServer } from 'ws'
import { startDemoUpstream, type DemoUpstream } from '../../src/demo/upstream.js'
import { freePort, startMeshgate, tcpListening, type MeshgateProcess } from './meshgate-process.js'

export type Role = 'west' | 'gateway' | 'east'

export interface ClustersOptions {
  /** West → gateway transport (default auto). */
  transport?: 'h2' | 'h3' | 'auto'
  /** dataPlane of all three (default: the config default, auto). */
  dataPlane?: 'js' | 'native'
  /** Whether the gateway and the east inbound listen for h3 too (default: where the addon loads). */
  h3Listeners?: boolean
  /** Transport of the gateway's sessions to the east inbound for terminate-mode exports (default h2). */
  eastTransport?: 'h2' | 'h3'
  /** Extra YAML under the gateway's `exports:` (two-space indent inside). */
  extraExports?: string
  /** More east services at the gateway, each on one of the east workloads. */
  extraGatewayServices?: Record<string, 'http' | 'tcp' | 'ws'>
  /** Extra YAML under the gateway's `trustDomains:` (four-space indent). */
  extraTrustDomains?: string
  /** Extra YAML under west's `services:`. */
  extraWestServices?: string
  /** Extra top-level YAML for west (e.g. a balancing section). */
  westExtra?: string
}

export interface Clusters {
  dir: string
  ports: { app: number, appTcpTerm: number, gateway: number, east: number, westAdmin: number, gatewayAdmin: number, eastAdmin: number }
  demo: DemoUpstream
  wsPort: number
  procs: Record<Role, MeshgateProcess>
  /** Starts a stopped role's process again with the same config; resolves when it listens. */
  start: (role: Role) => Promise<void>
  stop: (role: Role) => Promise<void>
  /** Stops everything and removes the directory. */
  close: () => Promise<void>
}

const CLIENT = 'spiffe://west.local/ns/default/sa/client'
const GATEWAY = 'spiffe://east.local/ns/default/sa/gateway'
const WEB = 'spiffe://east.local/ns/default/sa/web'

export async function startClusters (options: ClustersOptions = {}): Promise<Clusters> {
  const dir = await mkdtemp(join(tmpdir(), 'meshgate-clusters-'))
  const demo = await startDemoUpstream('127.0.0.1', 0, 0)
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 })
  await new Promise((resolve) => wss.once('listening', resolve))
  wss.on('connection', (ws, req) => {
    ws.send(`caller ${String(req.headers['meshgate-client-id'])}`)
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }))
  })
  const wsPort = (wss.address() as { port: number }).port
  const ports = {
    app: await freePort(),
    appTcpTerm: await freePort(),
    gateway: await freePort(),
    east: await freePort(),
    westAdmin: await freePort(),
    gatewayAdmin: await freePort(),
    eastAdmin: await freePort(),
  }
  const dp = options.dataPlane === undefined ? '' : `dataPlane: ${options.dataPlane}\n`
  const h3 = options.h3Listeners === undefined ? '' : `, h3: ${String(options.h3Listeners)}`
  const pki = (domain: string, workload: string, other: string): string => `
devPki:
  dir: pki/${domain}
  trustDomain: ${domain}
  workloads: [${workload}]
  trustDomains: [{ trustDomain: ${other}, dir: pki/${other} }]
`
  const http = `127.0.0.1:${demo.httpPort}`
  const tcp = `127.0.0.1:${demo.tcpPort}`
  const ws = `127.0.0.1:${wsPort}`
  const endpoint = (target: string, transport = 'h2'): string => `{ endpoints: [{ peer: "127.0.0.1:${ports.east}", identity: "${WEB}", target: "${target}", transport: ${transport} }] }`
  const files: Record<Role, string> = {
    east: `${pki('east.local', 'web', 'west.local')}${dp}log: { level: warn }
admin: { host: 127.0.0.1, port: ${ports.eastAdmin} }
inbound:
  tls: { ca: pki/east.local/bundle.crt, cert: pki/east.local/web.crt, key: pki/east.local/web.key }
  listeners: [{ host: 127.0.0.1, port: ${ports.east}${h3} }]
  targets:
    - { address: "${http}", protocol: auto, allow: ["${CLIENT}", "${GATEWAY}"] }
    - { address: "${ws}", protocol: http1, allow: ["${CLIENT}", "${GATEWAY}"] }
    - { address: "${tcp}", protocol: tcp, allow: ["${CLIENT}", "${GATEWAY}"] }
`,
    gateway: `${pki('east.local', 'gateway', 'west.local')}${dp}log: { level: warn }
admin: { host: 127.0.0.1, port: ${ports.gatewayAdmin} }
services:
  web: ${endpoint(http)}
  ws: ${endpoint(ws)}
  echo: ${endpoint(tcp)}
  web-term: ${endpoint(http, options.eastTransport)}
  echo-term: ${endpoint(tcp, options.eastTransport)}
  internal: ${endpoint(http)}
${Object.entries(options.extraGatewayServices ?? {}).map(([name, w]) => `  ${name}: ${endpoint({ http, tcp, ws }[w])}\n`).join('')}gateway:
  tls: { ca: pki/east.local/ca.crt, cert: pki/east.local/gateway.crt, key: pki/east.local/gateway.key }
  listeners: [{ host: 127.0.0.1, port: ${ports.gateway}${h3} }]
  trustDomains:
    west.local: { ca: pki/west.local/ca.crt }
${options.extraTrustDomains ?? ''}  exports:
    web: { allow: ["${CLIENT}"] }
    ws: { allow: ["${CLIENT}"] }
    echo: { allow: ["${CLIENT}"] }
    web-term: { allow: ["spiffe://west.local"], mode: terminate }
    echo-term: { allow: ["spiffe://west.local"], mode: terminate }
${options.extraExports ?? ''}`,
    west: `${pki('west.local', 'client', 'east.local')}${dp}log: { level: warn }
admin: { host: 127.0.0.1, port: ${ports.westAdmin} }
h3: { autoRetryH3Ms: 1s }
clusters:
  east: { gateway: "127.0.0.1:${ports.gateway}", identity: "${GATEWAY}", transport: ${options.transport ?? 'auto'}, refreshMs: 300ms }
services:
  web: { aliases: [web.east], cluster: east }
  ws: { aliases: [ws.east], cluster: east }
  echo: { cluster: east }
  web-term: { aliases: [term.east], cluster: east }
  echo-term: { cluster: east }
${options.extraWestServices ?? ''}outbound:
  tls: { ca: pki/west.local/bundle.crt, cert: pki/west.local/client.crt, key: pki/west.local/client.key }
  listeners:
    - { name: app, host: 127.0.0.1, port: ${ports.app}, protocol: auto, tcpService: echo }
    - { name: term, host: 127.0.0.1, port: ${ports.appTcpTerm}, protocol: tcp, tcpService: echo-term }
${options.westExtra ?? ''}`,
  }
  for (const [role, text] of Object.entries(files)) await writeFile(join(dir, `${role}.yaml`), text)
  const listenPort: Record<Role, number> = { east: ports.eastAdmin, gateway: ports.gatewayAdmin, west: ports.westAdmin }
  const procs = {} as Record<Role, MeshgateProcess>
  const start = async (role: Role): Promise<void> => {
    procs[role] = startMeshgate(join(dir, `${role}.yaml`))
    // The admin server starts last: once it accepts, every listener is up.
    await tcpListening(listenPort[role], procs[role])
  }
  const stop = async (role: Role): Promise<void> => { await procs[role]?.stop() }
  const close = async (): Promise<void> => {
    await Promise.all((['west', 'gateway', 'east'] as const).map(stop))
    for (const client of wss.clients) client.terminate()
    await new Promise((resolve) => wss.close(resolve))
    await demo.close()
    await rm(dir, { recursive: true, force: true })
  }
  try {
    await start('east')
    await start('gateway')
    await start('west')
  } catch (err) {
    await close()
    throw err
  }
  return { dir, ports, demo, wsPort, procs, start, stop, close }
}

/** Polls `check` every 100 ms until it returns true; fails after `timeoutMs` with `what`. */
export async function eventually (check: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
