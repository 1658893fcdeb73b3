/**
 * The HAProxy pair: a client-side and a server-side HAProxy 2.6, one thread each, mutual TLS
 * between them — the reference a sidecar pair is measured against.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { HAPROXY_BINARY, haproxyArgs, pairClientConfig, pairServerConfig, type TrafficPorts } from '../haproxy.js'
import { freePorts } from '../ports.js'
import { BenchProcess } from '../processes.js'
import type { PathDefinition } from './types.js'

async function portSet (): Promise<TrafficPorts> {
  const [http1, h2c, tcp] = await freePorts(3) as [number, number, number]
  return { http1, h2c, tcp }
}

export const haproxyPairPath: PathDefinition = {
  id: 'haproxy-pair',
  title: 'HAProxy pair',
  start: async (context) => {
    const entry = await portSet()
    const peer = await portSet()
    const serverFile = join(context.workDir, 'pair-server.haproxy.cfg')
    const clientFile = join(context.workDir, 'pair-client.haproxy.cfg')
    await writeFile(serverFile, pairServerConfig({ certs: context.certs, listen: peer, forward: context.upstream }))
    await writeFile(clientFile, pairClientConfig({ certs: context.certs, listen: entry, forward: peer }))
    const processes: BenchProcess[] = []
    const stop = async (): Promise<void> => { await Promise.all(processes.map(async (p) => await p.stop())) }
    try {
      processes.push(await BenchProcess.start({
        name: 'haproxy-server',
        command: HAPROXY_BINARY,
        args: haproxyArgs(serverFile),
        logFile: join(context.workDir, 'haproxy-server.log'),
        readyPorts: Object.values(peer),
      }))
      processes.push(await BenchProcess.start({
        name: 'haproxy-client',
        command: HAPROXY_BINARY,
        args: haproxyArgs(clientFile),
        logFile: join(context.workDir, 'haproxy-client.log'),
        readyPorts: Object.values(entry),
      }))
    } catch (err) {
      await stop()
      throw err
    }
    return { entry, processes, stop }
  },
}
