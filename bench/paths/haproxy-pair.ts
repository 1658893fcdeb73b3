/**
 * The HAProxy pair: a client-side and a server-side HAProxy 2.6, one thread each, mutual TLS
 * between them — the reference a sidecar pair is measured against. Its configs and process
 * settings are exported for cold start (scenarios/cold-start.ts), which starts the pair itself.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { HAPROXY_BINARY, haproxyArgs, pairClientConfig, pairServerConfig, type TrafficPorts } from '../haproxy.js'
import { freePorts } from '../ports.js'
import { BenchProcess, type StartOptions } from '../processes.js'
import type { BenchContext, PathDefinition } from './types.js'

async function portSet (): Promise<TrafficPorts> {
  const [http1, h2c, tcp] = await freePorts(3) as [number, number, number]
  return { http1, h2c, tcp }
}

/** The pair's ports (where callers enter, where the server half listens) and config files. */
export interface HaproxyPairConfigs {
  entry: TrafficPorts
  peer: TrafficPorts
  serverFile: string
  clientFile: string
}

/** Picks free ports and writes both halves' configs into the work directory. */
export async function writeHaproxyPairConfigs (context: BenchContext): Promise<HaproxyPairConfigs> {
  const entry = await portSet()
  const peer = await portSet()
  const serverFile = join(context.workDir, 'pair-server.haproxy.cfg')
  const clientFile = join(context.workDir, 'pair-client.haproxy.cfg')
  await writeFile(serverFile, pairServerConfig({ certs: context.certs, listen: peer, forward: context.upstream }))
  await writeFile(clientFile, pairClientConfig({ certs: context.certs, listen: entry, forward: peer }))
  return { entry, peer, serverFile, clientFile }
}

/** How one half is started; `readyPorts` must listen before it counts as started. */
export function haproxySideStart (context: BenchContext, side: 'server' | 'client', file: string, readyPorts: number[]): StartOptions {
  return {
    name: `haproxy-${side}`,
    command: HAPROXY_BINARY,
    args: haproxyArgs(file),
    logFile: join(context.workDir, `haproxy-${side}.log`),
    readyPorts,
  }
}

export const haproxyPairPath: PathDefinition = {
  id: 'haproxy-pair',
  title: 'HAProxy pair',
  start: async (context) => {
    const { entry, peer, serverFile, clientFile } = await writeHaproxyPairConfigs(context)
    const processes: BenchProcess[] = []
    const stop = async (): Promise<void> => { await Promise.all(processes.map(async (p) => await p.stop())) }
    try {
      processes.push(await BenchProcess.start(haproxySideStart(context, 'server', serverFile, Object.values(peer))))
      processes.push(await BenchProcess.start(haproxySideStart(context, 'client', clientFile, Object.values(entry))))
    } catch (err) {
      await stop()
      throw err
    }
    return { entry, processes, stop }
  },
}
