/**
 * The meshgate pair: two `meshgate run` processes (outbound-only, inbound-only) with an h2 + mTLS
 * peer session between them, built from this checkout's dist/.
 */
import { access, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { TrafficPorts } from '../haproxy.js'
import { inboundConfig, MESHGATE_CLI, outboundConfig } from '../meshgate.js'
import { freePorts } from '../ports.js'
import { BenchProcess } from '../processes.js'
import type { PathDefinition } from './types.js'

export const meshgatePairPath: PathDefinition = {
  id: 'meshgate-pair',
  title: 'meshgate pair',
  start: async (context) => {
    const cli = join(context.repoDir, MESHGATE_CLI)
    await access(cli).catch(() => { throw new Error(`${MESHGATE_CLI} not found (run \`npx tsc -p tsconfig.json\`)`) })
    const [http1, h2c, tcp, peerPort, outboundAdmin, inboundAdmin] = await freePorts(6) as [number, number, number, number, number, number]
    const entry: TrafficPorts = { http1, h2c, tcp }
    const inboundFile = join(context.workDir, 'meshgate-inbound.yaml')
    const outboundFile = join(context.workDir, 'meshgate-outbound.yaml')
    await writeFile(inboundFile, inboundConfig({ certs: context.certs, peerPort, upstream: context.upstream, adminPort: inboundAdmin }))
    await writeFile(outboundFile, outboundConfig({ certs: context.certs, listen: entry, peerPort, upstream: context.upstream, adminPort: outboundAdmin }))
    const processes: BenchProcess[] = []
    const stop = async (): Promise<void> => { await Promise.all(processes.map(async (p) => await p.stop(5_000))) }
    const env = { ...process.env, NODE_ENV: 'production' }
    try {
      processes.push(await BenchProcess.start({
        name: 'meshgate-inbound',
        command: process.execPath,
        args: [cli, 'run', inboundFile],
        cwd: context.repoDir,
        env,
        logFile: join(context.workDir, 'meshgate-inbound.log'),
        readyPorts: [peerPort],
        metricsUrl: `http://127.0.0.1:${inboundAdmin}/metrics`,
      }))
      processes.push(await BenchProcess.start({
        name: 'meshgate-outbound',
        command: process.execPath,
        args: [cli, 'run', outboundFile],
        cwd: context.repoDir,
        env,
        logFile: join(context.workDir, 'meshgate-outbound.log'),
        readyPorts: [http1, h2c, tcp],
        metricsUrl: `http://127.0.0.1:${outboundAdmin}/metrics`,
      }))
    } catch (err) {
      await stop()
      throw err
    }
    return { entry, processes, stop }
  },
}
