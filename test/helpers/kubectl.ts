/**
 * kubectl as a real peer, kept off every network: each run gets a kubeconfig in a temp dir whose
 * only server is a loopback port nobody listens on, and HOME there too (its cache stays there).
 * Missing kubectl skips with a reason on a developer's machine and fails under CI=true or
 * MESHGATE_REQUIRE_KUBECTL=1 (.ci/run installs it).
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { run, type RunResult } from './exec.js'

/** Skip reason, or false when kubectl runs or must (CI): then a missing one fails the tests. */
export function kubectlSkip (): string | false {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'ignore', timeout: 30_000 })
    return false
  } catch {
    if (process.env.CI === 'true' || process.env.MESHGATE_REQUIRE_KUBECTL === '1') return false
    return 'kubectl is not installed (apt-get install kubernetes-client)'
  }
}

export interface OfflineKubectl {
  /** The closed loopback address the kubeconfig names. */
  server: string
  run: (args: string[]) => Promise<RunResult>
  close: () => void
}

/** A port that was free a moment ago and now has no listener: connections to it are refused. */
async function closedPort (): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/**
 * kubectl with its own kubeconfig and HOME in a temp dir. Its server is `serverUrl` (a loopback
 * server of the test's, such as test/helpers/kube-discovery.ts), or else a closed loopback port.
 */
export async function offlineKubectl (serverUrl?: string): Promise<OfflineKubectl> {
  const dir = mkdtempSync(join(tmpdir(), 'mg-kubectl-'))
  const server = serverUrl?.replace(/^https?:\/\//, '') ?? `127.0.0.1:${await closedPort()}`
  const scheme = serverUrl?.startsWith('http://') === true ? 'http' : 'https'
  const kubeconfig = join(dir, 'config')
  writeFileSync(kubeconfig, `apiVersion: v1
kind: Config
clusters: [{ name: offline, cluster: { server: "${scheme}://${server}"${scheme === 'https' ? ', insecure-skip-tls-verify: true' : ''} } }]
users: [{ name: offline, user: { token: none } }]
contexts: [{ name: offline, context: { cluster: offline, user: offline, namespace: default } }]
current-context: offline
`)
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, KUBECONFIG: kubeconfig }
  return {
    server,
    run: async (args) => await run('kubectl', ['--kubeconfig', kubeconfig, '--request-timeout', '5s', ...args], { timeoutMs: 60_000, env }),
    close: () => rmSync(dir, { recursive: true, force: true }),
  }
}
