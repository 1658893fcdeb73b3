/**
 * The multi-cluster path: three `meshgate run` processes, a west outbound, an east gateway and an
 * east inbound, so the load crosses the gateway hop (issue 12). `mode` is the gateway's export
 * mode: `e2e` (an inner mTLS session from the outbound to the inbound inside a CONNECT tunnel;
 * the gateway relays ciphertext) or `terminate` (the gateway reads and re-originates each
 * stream). All three on h2 and the default data plane, like the `meshgate pair` it is compared to.
 * Its certificates are its own: two trust domains, each with its own CA.
 */
import { access, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { stringify } from 'yaml'
import { createCertificateAuthority, spiffeId } from '../../core/identity/pki.js'
import type { TrafficPorts } from '../haproxy.js'
import { NODE_FLAGS } from '../../src/node-flags.js'
import { MESHGATE_CLI } from '../meshgate.js'
import { AUTHORITY } from '../names.js'
import { freePorts } from '../ports.js'
import { BenchProcess } from '../processes.js'
import type { PathDefinition } from './types.js'

export interface GatewayHopOptions {
  id: string
  title: string
  mode: 'e2e' | 'terminate'
}

interface Files { ca: string, cert: string, key: string, identity: string }

/** A CA for `domain` and one workload per name, written under `dir` with the path's id. */
async function domainPki (dir: string, id: string, domain: string, names: string[]): Promise<{ ca: string, workloads: Record<string, Files> }> {
  const ca = await createCertificateAuthority(domain)
  const caFile = join(dir, `${id}-${domain}-ca.crt`)
  await writeFile(caFile, ca.cert)
  const workloads: Record<string, Files> = {}
  for (const name of names) {
    const identity = spiffeId(domain, name)
    const issued = await ca.issue(identity)
    const cert = join(dir, `${id}-${domain}-${name}.crt`)
    const key = join(dir, `${id}-${domain}-${name}.key`)
    await writeFile(cert, issued.cert)
    await writeFile(key, issued.key, { mode: 0o600 })
    workloads[name] = { ca: caFile, cert, key, identity }
  }
  return { ca: ca.cert, workloads }
}

export function gatewayHop (options: GatewayHopOptions): PathDefinition {
  return {
    id: options.id,
    title: options.title,
    start: async (context) => {
      const cli = join(context.repoDir, MESHGATE_CLI)
      await access(cli).catch(() => { throw new Error(`${MESHGATE_CLI} not found (run \`npx tsc -p tsconfig.json\`)`) })
      const dir = context.workDir
      const west = await domainPki(dir, options.id, 'west.bench', ['client'])
      const east = await domainPki(dir, options.id, 'east.bench', ['gateway', 'server'])
      const westBundle = join(dir, `${options.id}-west-bundle.crt`)
      const eastBundle = join(dir, `${options.id}-east-bundle.crt`)
      await writeFile(westBundle, west.ca + east.ca)
      await writeFile(eastBundle, east.ca + west.ca)
      const [http1, h2c, tcp, gatewayPort, eastPort, westAdmin, gatewayAdmin, eastAdmin] = await freePorts(8) as [number, number, number, number, number, number, number, number]
      const entry: TrafficPorts = { http1, h2c, tcp }
      const up = context.upstream
      const allow = ['spiffe://west.bench', 'spiffe://east.bench/ns/default/sa/gateway']
      const files = {
        east: stringify({
          log: { level: 'warn' },
          admin: { host: '127.0.0.1', port: eastAdmin },
          inbound: {
            tls: { ca: eastBundle, cert: east.workloads.server.cert, key: east.workloads.server.key },
            listeners: [{ host: '127.0.0.1', port: eastPort, h3: false }],
            targets: [
              { address: `127.0.0.1:${up.http1}`, protocol: 'http1', allow },
              { address: `127.0.0.1:${up.h2c}`, protocol: 'http2', allow },
              { address: `127.0.0.1:${up.tcp}`, protocol: 'tcp', allow },
            ],
          },
        }),
        gateway: stringify({
          log: { level: 'warn' },
          admin: { host: '127.0.0.1', port: gatewayAdmin },
          services: Object.fromEntries(([['http1', up.http1], ['h2c', up.h2c], ['tcp', up.tcp]] as const).map(([kind, port]) => [AUTHORITY[kind], {
            endpoints: [{ peer: `127.0.0.1:${eastPort}`, identity: east.workloads.server.identity, target: `127.0.0.1:${port}`, transport: 'h2' }],
          }])),
          gateway: {
            tls: { ca: east.workloads.gateway.ca, cert: east.workloads.gateway.cert, key: east.workloads.gateway.key },
            listeners: [{ host: '127.0.0.1', port: gatewayPort, h3: false }],
            trustDomains: { 'west.bench': { ca: west.workloads.client.ca } },
            exports: Object.fromEntries(Object.values(AUTHORITY).map((name) => [name, { allow: ['spiffe://west.bench'], mode: options.mode }])),
          },
        }),
        west: stringify({
          log: { level: 'warn' },
          admin: { host: '127.0.0.1', port: westAdmin },
          clusters: { east: { gateway: `127.0.0.1:${gatewayPort}`, identity: east.workloads.gateway.identity, transport: 'h2' } },
          outbound: {
            tls: { ca: westBundle, cert: west.workloads.client.cert, key: west.workloads.client.key },
            listeners: [
              { name: 'http1', host: '127.0.0.1', port: http1, protocol: 'http1' },
              { name: 'h2c', host: '127.0.0.1', port: h2c, protocol: 'http2' },
              { name: 'tcp', host: '127.0.0.1', port: tcp, protocol: 'tcp', tcpService: AUTHORITY.tcp },
            ],
          },
          services: {
            [AUTHORITY.http1]: { aliases: [`127.0.0.1:${http1}`], cluster: 'east' },
            [AUTHORITY.h2c]: { aliases: [`127.0.0.1:${h2c}`], cluster: 'east' },
            [AUTHORITY.tcp]: { cluster: 'east' },
          },
        }),
      }
      const processes: BenchProcess[] = []
      const stop = async (): Promise<void> => { await Promise.all(processes.map(async (p) => await p.stop(5_000))) }
      const env = { ...process.env, NODE_ENV: 'production' }
      const start = async (role: 'east' | 'gateway' | 'west', readyPorts: number[], adminPort: number): Promise<BenchProcess> => {
        const file = join(dir, `${options.id}-${role}.yaml`)
        await writeFile(file, `# generated by meshgate bench/paths/gateway-hop.ts\n${files[role]}`)
        return await BenchProcess.start({
          name: `${options.id}-${role}`,
          command: process.execPath,
          args: [...NODE_FLAGS, cli, 'run', file],
          cwd: context.repoDir,
          env,
          logFile: join(dir, `${options.id}-${role}.log`),
          readyPorts: [...readyPorts, adminPort],
          metricsUrl: `http://127.0.0.1:${adminPort}/metrics`,
        })
      }
      try {
        processes.push(await start('east', [eastPort], eastAdmin))
        processes.push(await start('gateway', [gatewayPort], gatewayAdmin))
        processes.push(await start('west', [http1, h2c, tcp], westAdmin))
        // West reads the gateway's exports once it is up: wait until a request gets through.
        const deadline = Date.now() + 10_000
        for (;;) {
          const ok = await fetch(`http://127.0.0.1:${http1}/`, { headers: { host: AUTHORITY.http1 }, signal: AbortSignal.timeout(2_000) }).then((r) => r.ok, () => false)
          if (ok) break
          if (Date.now() > deadline) throw new Error('west never got a request through the gateway')
          await new Promise((resolve) => setTimeout(resolve, 200))
        }
      } catch (err) {
        await stop()
        throw err
      }
      return { entry, processes, stop, description: `west outbound → gateway (${options.mode}) → east inbound, all h2, dataPlane auto` }
    },
  }
}
