/**
 * The meshgate pair: two `meshgate run` processes (outbound-only, inbound-only) with a peer
 * session between them, built from this checkout's dist/. `meshgatePair()` makes variants of the
 * path (another transport, extra CLI arguments such as a metrics switch) for later scenarios.
 */
import { access, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { TrafficPorts } from '../haproxy.js'
import { inboundConfig, MESHGATE_CLI, outboundConfig } from '../meshgate.js'
import { freePorts } from '../ports.js'
import { BenchProcess } from '../processes.js'
import type { PathDefinition } from './types.js'

export interface MeshgatePairOptions {
  id: string
  title: string
  /** Transport between the pair (default `h2`). */
  transport?: 'h2' | 'h3'
  /** Extra `meshgate run` arguments for both processes. */
  extraArgs?: string[]
  /** Extra top-level YAML keys for both processes' configs (e.g. `metrics: { enabled: false }`). */
  extraConfig?: Record<string, unknown>
}

export function meshgatePair (options: MeshgatePairOptions): PathDefinition {
  return {
    id: options.id,
    title: options.title,
    start: async (context) => {
      const cli = join(context.repoDir, MESHGATE_CLI)
      await access(cli).catch(() => { throw new Error(`${MESHGATE_CLI} not found (run \`npx tsc -p tsconfig.json\`)`) })
      const [http1, h2c, tcp, peerPort, outboundAdmin, inboundAdmin] = await freePorts(6) as [number, number, number, number, number, number]
      const entry: TrafficPorts = { http1, h2c, tcp }
      const inboundFile = join(context.workDir, `${options.id}-inbound.yaml`)
      const outboundFile = join(context.workDir, `${options.id}-outbound.yaml`)
      await writeFile(inboundFile, inboundConfig({ certs: context.certs, peerPort, upstream: context.upstream, adminPort: inboundAdmin, extra: options.extraConfig }))
      await writeFile(outboundFile, outboundConfig({
        certs: context.certs, listen: entry, peerPort, upstream: context.upstream, adminPort: outboundAdmin, transport: options.transport, extra: options.extraConfig,
      }))
      const processes: BenchProcess[] = []
      const stop = async (): Promise<void> => { await Promise.all(processes.map(async (p) => await p.stop(5_000))) }
      const env = { ...process.env, NODE_ENV: 'production' }
      const side = async (role: 'inbound' | 'outbound', file: string, readyPorts: number[], adminPort: number): Promise<BenchProcess> =>
        await BenchProcess.start({
          // Unique across variants, since the memory table lists processes of every path.
          name: options.id === 'meshgate-pair' ? `meshgate-${role}` : `${options.id}-${role}`,
          command: process.execPath,
          args: [cli, 'run', file, ...(options.extraArgs ?? [])],
          cwd: context.repoDir,
          env,
          logFile: join(context.workDir, `${options.id}-${role}.log`),
          readyPorts,
          metricsUrl: `http://127.0.0.1:${adminPort}/metrics`,
        })
      try {
        processes.push(await side('inbound', inboundFile, [peerPort], inboundAdmin))
        processes.push(await side('outbound', outboundFile, [http1, h2c, tcp], outboundAdmin))
      } catch (err) {
        await stop()
        throw err
      }
      return { entry, processes, stop }
    },
  }
}

/** The pair of issue 2: h2 + mTLS, default settings. */
export const meshgatePairPath: PathDefinition = meshgatePair({ id: 'meshgate-pair', title: 'meshgate pair' })
