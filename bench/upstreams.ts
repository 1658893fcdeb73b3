/**
 * The servers behind every path, shared by all of them in one run: a HAProxy instance that
 * answers `200 ok` itself on an HTTP/1.1 port and an h2c port (a non-Node upstream, so the
 * upstream is not the bottleneck), and `iperf3 -s` for TCP bulk.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { HAPROXY_BINARY, haproxyArgs, upstreamConfig, type TrafficPorts } from './haproxy.js'
import { freePorts } from './ports.js'
import { BenchProcess } from './processes.js'

export interface Upstreams {
  ports: TrafficPorts
  processes: BenchProcess[]
  stop: () => Promise<void>
}

export async function startUpstreams (workDir: string): Promise<Upstreams> {
  const [http1, h2c, tcp] = await freePorts(3) as [number, number, number]
  const ports: TrafficPorts = { http1, h2c, tcp }
  const configFile = join(workDir, 'upstream.haproxy.cfg')
  await writeFile(configFile, upstreamConfig(ports))
  const processes: BenchProcess[] = []
  const stop = async (): Promise<void> => { await Promise.all(processes.map(async (p) => await p.stop())) }
  try {
    processes.push(await BenchProcess.start({
      name: 'upstream-haproxy',
      command: HAPROXY_BINARY,
      args: haproxyArgs(configFile),
      logFile: join(workDir, 'upstream-haproxy.log'),
      readyPorts: [http1, h2c],
    }))
    processes.push(await BenchProcess.start({
      name: 'upstream-iperf3',
      command: 'iperf3',
      // --idle-timeout restarts a server that a broken client left waiting.
      args: ['-s', '-B', '127.0.0.1', '-p', String(tcp), '--idle-timeout', '20'],
      logFile: join(workDir, 'upstream-iperf3.log'),
      readyPorts: [tcp],
    }))
  } catch (err) {
    await stop()
    throw err
  }
  return { ports, processes, stop }
}
