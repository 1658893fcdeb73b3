/**
 * A meshgate pair on loopback for integration tests: a workload upstream (the demo upstream:
 * HTTP/1 + h2c echo and a TCP echo), an inbound proxy in front of it and an outbound proxy the
 * test talks to, with certificates from a fresh test CA. Both proxies run in this process.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino, type Logger } from 'pino'
import { parseConfig } from '../../src/config/load.js'
import type { DataPlaneSetting } from '../../src/config/types.js'
import { startDemoUpstream, type DemoUpstream } from '../../src/demo/upstream.js'
import { startProxy, type RunningProxy } from '../../src/proxy.js'
import type { TlsMaterial } from '../../transports/contract.js'
import { makePki, type TestPki } from './pki.js'

export interface PairOptions {
  /** Extra YAML for the outbound side's top level (e.g. `timeouts: {requestMs: 500}`). */
  outboundExtra?: string
  inboundExtra?: string
  /** `allow` entries of the inbound targets (default: the whole test trust domain). */
  allow?: string[]
  /** Identity the outbound side expects of the inbound peer (default: the server's). */
  expectIdentity?: string
  /** TLS material of each side (default: fresh certificates from the test CA). */
  clientTls?: TlsMaterial
  serverTls?: TlsMaterial
  pki?: TestPki
  /** Workload address of the `web` service (default: the demo upstream's HTTP port). */
  webTarget?: string
  /** Logger of the outbound proxy (default: silent, or MESHGATE_TEST_LOG's level). */
  clientLogger?: Logger
  /** Peer address of the `web` service (default: the inbound proxy). */
  webPeer?: string
  /** `transport:` of every endpoint (default: the config default, h2). */
  transport?: 'h2' | 'h3' | 'auto'
  /** `h3:` of the inbound listener (default: unset, i.e. h3 too when the QUIC addon is built). */
  inboundH3?: boolean
  /** The echo service's target (default: the demo upstream's TCP echo). */
  tcpTarget?: string
  /**
   * A YAML list of Proxy-Wasm plugins: the outbound side gets a third listener (`plugged`, auto
   * protocol, port `pluginPort`) that runs them; `app` stays without plugins.
   */
  outboundPlugins?: string
  /** A YAML list of Proxy-Wasm plugins for the inbound side (`inbound.plugins`). */
  inboundPlugins?: string
  /** `dataPlane:` of both proxies (default: unset, i.e. the config default `auto`); see DATA_PLANES. */
  dataPlane?: DataPlaneSetting
  /** Labels of the `web` endpoint, as a YAML flow map (e.g. `{ version: v1 }`). */
  webLabels?: string
  /** More endpoints of `web`: `{ target, labels }` (YAML flow map text), through the same inbound proxy. */
  webMoreEndpoints?: Array<{ target: string, labels?: string }>
  /** More keys of the `web` service (e.g. `routes: [...]`), YAML at the service's indentation. */
  webExtra?: string
  /** `inbound.rateLimit` of the server, as a YAML flow map. */
  inboundRateLimit?: string
  /** More services on the outbound side: YAML lines under `services:` (indented by two spaces). */
  moreServices?: string
}

export interface Pair {
  pki: TestPki
  upstream: DemoUpstream
  client: RunningProxy
  server: RunningProxy
  /** The outbound `auto` listener (HTTP/1, h2c, TCP by detection). */
  appPort: number
  /** The outbound `tcp` listener. */
  tcpPort: number
  /** The outbound `plugged` listener (with `outboundPlugins`; 0 without). */
  pluginPort: number
  /** The inbound peer port. */
  peerPort: number
  dir: string
  close: () => Promise<void>
}

const silent = pino({ level: process.env.MESHGATE_TEST_LOG ?? 'silent' })

async function writeTls (dir: string, name: string, tls: TlsMaterial): Promise<string> {
  await writeFile(join(dir, `${name}.crt`), tls.cert)
  await writeFile(join(dir, `${name}.key`), tls.key, { mode: 0o600 })
  await writeFile(join(dir, `${name}-ca.crt`), tls.ca)
  return `{ ca: ${name}-ca.crt, cert: ${name}.crt, key: ${name}.key }`
}

export async function startPair (options: PairOptions = {}): Promise<Pair> {
  const pki = options.pki ?? await makePki()
  const dir = await mkdtemp(join(tmpdir(), 'meshgate-pair-'))
  const upstream = await startDemoUpstream('127.0.0.1', 0, 0)
  const serverTls = await writeTls(dir, 'server', options.serverTls ?? await pki.workload('server'))
  const clientTls = await writeTls(dir, 'client', options.clientTls ?? await pki.workload('client'))
  const allow = JSON.stringify(options.allow ?? [`spiffe://${pki.id('x').split('/')[2] ?? ''}`])
  const web = options.webTarget ?? `127.0.0.1:${upstream.httpPort}`
  const echo = options.tcpTarget ?? `127.0.0.1:${upstream.tcpPort}`
  const dataPlane = options.dataPlane === undefined ? '' : `dataPlane: ${options.dataPlane}`

  const serverYaml = `
${/^log:/m.test(options.inboundExtra ?? '') ? '' : 'log: { level: silent }'}
${dataPlane}
admin: { host: 127.0.0.1, port: 0 }
inbound:
  tls: ${serverTls}
  listeners: [{ host: 127.0.0.1, port: 0${options.inboundH3 === undefined ? '' : `, h3: ${String(options.inboundH3)}`} }]
  targets:
    - { address: "${web}", protocol: auto, allow: ${allow} }
    - { address: "${echo}", protocol: tcp, allow: ${allow} }
${(options.webMoreEndpoints ?? []).map((e) => `    - { address: "${e.target}", protocol: auto, allow: ${allow} }`).join('\n')}
${options.inboundRateLimit === undefined ? '' : `  rateLimit: ${options.inboundRateLimit}`}
${options.inboundPlugins === undefined ? '' : `  plugins: ${options.inboundPlugins}`}
${options.inboundExtra ?? ''}
`
  const server = await startProxy(parseConfig(serverYaml, join(dir, 'server.yaml')), silent)
  const peerPort = server.inbound?.addresses()[0]?.port ?? 0
  const identity = options.expectIdentity ?? pki.id('server')
  const transport = options.transport === undefined ? '' : `, transport: ${options.transport}`
  const clientYaml = `
${/^log:/m.test(options.outboundExtra ?? '') ? '' : 'log: { level: silent }'}
${dataPlane}
admin: { host: 127.0.0.1, port: 0 }
services:
  web:
    aliases: [web.test]
    endpoints:
      - { peer: "${options.webPeer ?? `127.0.0.1:${peerPort}`}", identity: "${identity}", target: "${web}"${transport}${options.webLabels === undefined ? '' : `, labels: ${options.webLabels}`} }
${(options.webMoreEndpoints ?? []).map((e) => `      - { peer: "127.0.0.1:${peerPort}", identity: "${identity}", target: "${e.target}"${transport}${e.labels === undefined ? '' : `, labels: ${e.labels}`} }`).join('\n')}
${(options.webExtra ?? '').split('\n').map((l) => `    ${l}`).join('\n')}
  echo:
    endpoints: [{ peer: "127.0.0.1:${peerPort}", identity: "${identity}", target: "${echo}"${transport} }]
  nowhere:
    endpoints: [{ peer: "127.0.0.1:${peerPort}", identity: "${identity}", target: "127.0.0.1:1"${transport} }]
${(options.moreServices ?? '').split('\n').map((l) => `  ${l}`).join('\n')}
outbound:
  tls: ${clientTls}
  listeners:
    - { name: app, host: 127.0.0.1, port: 0, protocol: auto, tcpService: echo }
    - { name: tcp, host: 127.0.0.1, port: 0, protocol: tcp, tcpService: echo }
${options.outboundPlugins === undefined ? '' : `    - { name: plugged, host: 127.0.0.1, port: 0, protocol: auto, tcpService: echo, plugins: ${options.outboundPlugins} }`}
${options.outboundExtra ?? ''}
`
  let client: RunningProxy
  try {
    client = await startProxy(parseConfig(clientYaml, join(dir, 'client.yaml')), options.clientLogger ?? silent)
  } catch (err) {
    await server.close()
    await upstream.close()
    throw err
  }
  const ports = client.outbound?.listeners.map((l) => l.address().port) ?? []
  return {
    pki,
    upstream,
    client,
    server,
    appPort: ports[0] ?? 0,
    tcpPort: ports[1] ?? 0,
    pluginPort: ports[2] ?? 0,
    peerPort,
    dir,
    close: async () => {
      await client.close()
      await server.close()
      await upstream.close()
      await rm(dir, { recursive: true, force: true })
    },
  }
}
