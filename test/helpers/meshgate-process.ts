/**
 * `meshgate run FILE` as a real child process for tests: started with `node dist/src/cli.js`,
 * output kept for failure messages, waited for (a TCP port accepting), and stopped with SIGTERM
 * (SIGKILL after 5 s). Every wait is bounded.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import net, { type AddressInfo } from 'node:net'
import dgram from 'node:dgram'
import { fileURLToPath } from 'node:url'

export const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url))

export interface MeshgateProcess {
  readonly child: ChildProcess
  /** stdout + stderr so far. */
  output: () => string
  /** SIGTERM, then SIGKILL after 5 s; resolves once it exited. Safe twice. */
  stop: (signal?: NodeJS.Signals) => Promise<void>
}

export function startMeshgate (file: string): MeshgateProcess {
  const child = spawn(process.execPath, [CLI, 'run', file], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout?.on('data', (c: Buffer) => { out += c.toString() })
  child.stderr?.on('data', (c: Buffer) => { out += c.toString() })
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  return {
    child,
    output: () => out,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal)
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
        await exited
        clearTimeout(timer)
      }
    },
  }
}

/** Resolves once something accepts TCP on 127.0.0.1:`port`, polling every 50 ms; fails after `timeoutMs` or if `proc` exits. */
export async function tcpListening (port: number, proc: MeshgateProcess, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (proc.child.exitCode === null && Date.now() < deadline) {
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => { socket.destroy(); resolve(true) })
      socket.on('error', () => resolve(false))
    })
    if (up) return
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  throw new Error(`meshgate not listening on ${port} (exit ${String(proc.child.exitCode)}):\n${proc.output().slice(-2000)}`)
}

/** A port free on both TCP and UDP at 127.0.0.1 now (h2 and h3 share a port number). */
export async function freePort (): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const server = net.createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    await new Promise((resolve) => server.close(resolve))
    const udp = dgram.createSocket('udp4')
    const ok = await new Promise<boolean>((resolve) => {
      udp.once('error', () => resolve(false))
      udp.bind(port, '127.0.0.1', () => resolve(true))
    })
    udp.close()
    if (ok) return port
  }
  throw new Error('no port free on both TCP and UDP')
}

/** Whether 127.0.0.1:`port` can be bound now, on TCP (and UDP when `udp`). */
export async function portFree (port: number, udp = false): Promise<boolean> {
  const tcp = await new Promise<boolean>((resolve) => {
    const server = net.createServer()
    server.once('error', () => resolve(false))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)))
  })
  if (!tcp || !udp) return tcp
  const socket = dgram.createSocket('udp4')
  const ok = await new Promise<boolean>((resolve) => {
    socket.once('error', () => resolve(false))
    socket.bind(port, '127.0.0.1', () => resolve(true))
  })
  socket.close()
  return ok
}

/** GET the admin's `/metrics` text. */
export async function metricsText (adminPort: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/metrics`, { signal: AbortSignal.timeout(5000) })
  return await res.text()
}

/** Sum of the samples of `family` whose labels include every `labels` pair. */
export function metricSum (text: string, family: string, labels: Record<string, string> = {}): number {
  let sum = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${family}{`) && !line.startsWith(`${family} `)) continue
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue
    sum += Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return sum
}
