/**
 * Network namespaces a test makes itself: "pods" joined by one veth pair with no other route,
 * each with loopback up. Names are unique per process; `deletePods()` removes them (and with
 * them every rule and socket inside), and is safe to call when creation failed half-way.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { run, type RunResult } from './exec.js'

/** skip reason for tests that need root (netns, iptables), or false. */
export function netnsSkip (): string | false {
  if (process.getuid?.() !== 0) return 'needs root for ip netns and iptables (CI runs as root)'
  for (const tool of [['ip', '-V'], ['iptables', '--version']] as const) {
    try {
      execFileSync(tool[0], [tool[1]], { stdio: 'ignore' })
    } catch {
      return `${tool[0]} is not installed (apt-get install iproute2 iptables)`
    }
  }
  return false
}

export interface NetnsPod {
  name: string
  /** The pod's address on the veth pair. */
  ip: string
}

const tag = `${process.pid.toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`

function ip (args: string[]): void {
  execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] })
}

/**
 * Two namespaces `a` and `b` on 198.18.<n>.1/30 and .2/30 (RFC 2544's benchmark range, only ever
 * inside these namespaces). `extraRoutes` are routed out of a's veth (virtual Service IPs).
 */
export function createPods (subnet: number, extraRoutes: string[] = []): [NetnsPod, NetnsPod] {
  const a: NetnsPod = { name: `mg-a-${tag}`, ip: `198.18.${subnet}.1` }
  const b: NetnsPod = { name: `mg-b-${tag}`, ip: `198.18.${subnet}.2` }
  const [va, vb] = [`mga${tag}`, `mgb${tag}`]
  created.push(a.name, b.name)
  ip(['netns', 'add', a.name])
  ip(['netns', 'add', b.name])
  ip(['link', 'add', va, 'netns', a.name, 'type', 'veth', 'peer', 'name', vb, 'netns', b.name])
  for (const [pod, dev] of [[a, va], [b, vb]] as const) {
    ip(['-n', pod.name, 'link', 'set', 'lo', 'up'])
    ip(['-n', pod.name, 'addr', 'add', `${pod.ip}/30`, 'dev', dev])
    ip(['-n', pod.name, 'link', 'set', dev, 'up'])
  }
  for (const route of extraRoutes) ip(['-n', a.name, 'route', 'add', route, 'dev', va])
  return [a, b]
}

const created: string[] = []

/** Deletes every namespace this process made (the veth pair goes with them). */
export function deletePods (): void {
  for (const name of created.splice(0)) {
    try { ip(['netns', 'del', name]) } catch { /* already gone */ }
  }
}

/** Runs a command in a pod, time-bounded, as root or (`uid`) another user. */
export async function inPod (pod: NetnsPod, command: string[], options: { uid?: number, timeoutMs?: number, input?: string } = {}): Promise<RunResult> {
  return await run('ip', ['netns', 'exec', pod.name, ...asUser(options.uid), ...command], options)
}

function asUser (uid: number | undefined): string[] {
  return uid === undefined ? [] : ['setpriv', `--reuid=${uid}`, `--regid=${uid}`, '--clear-groups']
}

/** Starts a long-running process in a pod; its output is kept for failure messages. */
export function spawnInPod (pod: NetnsPod, command: string[], uid?: number): ChildProcess & { output: () => string } {
  const child = spawn('ip', ['netns', 'exec', pod.name, ...asUser(uid), ...command], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout?.on('data', (c: Buffer) => { output = (output + c.toString()).slice(-20_000) })
  child.stderr?.on('data', (c: Buffer) => { output = (output + c.toString()).slice(-20_000) })
  return Object.assign(child, { output: () => output })
}
