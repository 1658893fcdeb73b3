/**
 * Child processes of the runner: each in its own process group with its output teed to a log
 * file, all of them killed (group, SIGTERM then SIGKILL) when a case ends, whatever happened;
 * and a readiness probe that waits until a port is bound, read from /proc/net.
 */
import { spawn, spawnSync } from 'node:child_process'
import { createWriteStream, readFileSync } from 'node:fs'
import type { Launch, RunningProcess } from './types.js'

/** Time a process gets between SIGTERM and SIGKILL, ms. */
const KILL_GRACE_MS = 2_000
/** Output kept in memory per process, characters (the log file keeps everything). */
const OUTPUT_CAP = 4 * 1024 * 1024

interface Tracked extends RunningProcess {
  kill: () => Promise<void>
}

/** The processes of one case; `killAll()` ends every one still running. */
export class ProcessGroup {
  private readonly tracked = new Set<Tracked>()

  /** Starts `launch`, teeing stdout and stderr to `logFile`. */
  start (launch: Launch, logFile: string): RunningProcess {
    const log = createWriteStream(logFile, { flags: 'a' })
    log.write(`$ ${[launch.command, ...launch.args].map(quote).join(' ')}\n`)
    const child = spawn(launch.command, launch.args, {
      cwd: launch.cwd,
      env: { ...process.env, ...launch.env },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so helpers it starts (Chromium's, Go's) die with it.
      detached: true,
    })
    let output = ''
    const onData = (chunk: Buffer): void => {
      log.write(chunk)
      if (output.length < OUTPUT_CAP) output += chunk.toString('utf8')
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    let running = true
    // Settles once the log file holds everything (evidence checks read it right after).
    const exited = new Promise<number | null>(resolve => {
      // A failed spawn emits 'error' and may emit 'close' as well: settle once.
      const settle = (last: string, code: number | null): void => {
        if (!running) return
        running = false
        log.end(last, () => resolve(code))
      }
      child.once('error', (err) => settle(`spawn failed: ${err.message}\n`, 127))
      child.once('close', (code, signal) => settle(`\n[exit ${code ?? signal ?? '?'}]\n`, code))
    })
    const signalGroup = (sig: NodeJS.Signals): void => {
      if (!running || child.pid === undefined) return
      try {
        process.kill(-child.pid, sig)
      } catch {
        try { child.kill(sig) } catch { /* already gone */ }
      }
    }
    const entry: Tracked = {
      pid: child.pid,
      exited,
      output: () => output,
      kill: async () => {
        signalGroup('SIGTERM')
        const timer = setTimeout(() => signalGroup('SIGKILL'), KILL_GRACE_MS)
        await exited
        clearTimeout(timer)
        // The leader is gone; make sure nothing it started lingers in its group.
        signalGroup('SIGKILL')
      },
    }
    this.tracked.add(entry)
    exited.then(() => this.tracked.delete(entry), () => this.tracked.delete(entry))
    return entry
  }

  /** SIGTERM to every group still running, SIGKILL after the grace time; resolves when all exited. */
  async killAll (): Promise<void> {
    await Promise.all([...this.tracked].map(async p => await p.kill()))
  }
}

function quote (arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, "'\\''")}'`
}

/** True when something on this machine is bound to `port` (UDP) or listens on it (TCP). */
export function portBound (port: number, protocol: 'udp' | 'tcp'): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0')
  for (const table of [`/proc/net/${protocol}`, `/proc/net/${protocol}6`]) {
    let text: string
    try {
      text = readFileSync(table, 'utf8')
    } catch {
      continue
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/)
      const local = fields[1]
      if (local === undefined || !local.endsWith(`:${hex}`)) continue
      // TCP: state 0A is LISTEN; UDP sockets have no listen state.
      if (protocol === 'udp' || fields[3] === '0A') return true
    }
  }
  return false
}

/** Resolves once `port` is bound, rejects when `process` exits first or the signal aborts. */
export async function waitForPort (port: number, protocol: 'udp' | 'tcp', proc: RunningProcess, signal: AbortSignal): Promise<void> {
  let exitedWith: number | null | undefined
  proc.exited.then(code => { exitedWith = code }, () => { exitedWith = -1 })
  for (;;) {
    if (portBound(port, protocol)) return
    if (exitedWith !== undefined) throw new Error(`server exited (status ${String(exitedWith)}) before binding port ${port}`)
    if (signal.aborted) throw new Error(`server did not bind ${protocol} port ${port} in time`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

/** True when `name` is a program on PATH (or an absolute path that is executable). */
export function haveCommand (name: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$0" >/dev/null 2>&1', name], { stdio: 'ignore' }).status === 0
}

/** A port free for both UDP and TCP on `host` right now (the OS picks; released before use). */
export async function freePort (host: string): Promise<number> {
  const { createSocket } = await import('node:dgram')
  const { createServer } = await import('node:net')
  for (let attempt = 0; ; attempt++) {
    const udp = createSocket(host.includes(':') ? 'udp6' : 'udp4')
    await new Promise<void>((resolve, reject) => { udp.once('error', reject); udp.bind(0, host, resolve) })
    const { port } = udp.address()
    const tcp = createServer()
    const tcpFree = await new Promise<boolean>(resolve => {
      tcp.once('error', () => resolve(false))
      tcp.listen(port, host, () => resolve(true))
    })
    if (tcpFree) await new Promise<void>(resolve => tcp.close(() => resolve()))
    await new Promise<void>(resolve => udp.close(() => resolve()))
    if (tcpFree || attempt >= 20) return port
  }
}
