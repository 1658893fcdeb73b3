/**
 * The node floor: the thinnest correct forwarding built from the modules meshgate uses (bench/floor/),
 * as a pair of processes like the meshgate pair. Its CPU per request is the platform's share of
 * meshgate's; the rest is meshgate's own.
 */
import { access } from 'node:fs/promises'
import { join } from 'node:path'
import type { TrafficPorts } from '../haproxy.js'
import { freePorts } from '../ports.js'
import { BenchProcess } from '../processes.js'
import type { PathDefinition } from './types.js'

const FLOOR_DIR = 'dist/bench/floor'

export const nodeFloorPath: PathDefinition = {
  id: 'node-floor',
  title: 'node floor',
  start: async (context) => {
    const dir = join(context.repoDir, FLOOR_DIR)
    await access(join(dir, 'outbound.js')).catch(() => { throw new Error(`${FLOOR_DIR}/outbound.js not found (run \`npx tsc -p tsconfig.json\`)`) })
    const [http1, h2c, tcp, peer] = await freePorts(4) as [number, number, number, number]
    const entry: TrafficPorts = { http1, h2c, tcp }
    const { certs } = context
    const processes: BenchProcess[] = []
    const stop = async (): Promise<void> => { await Promise.all(processes.map(async (p) => await p.stop())) }
    const side = async (role: 'inbound' | 'outbound', options: object, readyPorts: number[]): Promise<BenchProcess> =>
      await BenchProcess.start({
        name: `node-floor-${role}`,
        command: process.execPath,
        args: [join(dir, `${role}.js`), JSON.stringify(options)],
        cwd: context.repoDir,
        env: { ...process.env, NODE_ENV: 'production' },
        logFile: join(context.workDir, `node-floor-${role}.log`),
        readyPorts,
      })
    try {
      processes.push(await side('inbound', {
        listen: peer, upstream: context.upstream, tls: { ca: certs.ca, cert: certs.server.cert, key: certs.server.key },
      }, [peer]))
      processes.push(await side('outbound', {
        listen: entry, peer, tls: { ca: certs.ca, cert: certs.client.cert, key: certs.client.key },
      }, [http1, h2c, tcp]))
    } catch (err) {
      await stop()
      throw err
    }
    return { entry, processes, stop }
  },
}
