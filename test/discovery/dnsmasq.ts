// Starts a real dnsmasq on 127.0.0.1 and a random high port, answering only from files the test writes.
import { spawn, type ChildProcess } from 'node:child_process'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const DNSMASQ = '/usr/sbin/dnsmasq'

export interface Dnsmasq {
  port: number
  /** Rewrites the hosts file (`ip name` lines) and sends SIGHUP so dnsmasq rereads it. */
  setHosts: (lines: string[]) => Promise<void>
  /** Kills dnsmasq now (to test a resolver that fails). */
  kill: () => Promise<void>
  /** Kills dnsmasq and removes its files. Safe twice. */
  stop: () => Promise<void>
}

/**
 * `conf` lines go into the conf file (e.g. `srv-host=…`; SIGHUP does not reread them). The
 * domain `mesh.test` is answered locally (`local=`), so a missing name is NXDOMAIN and a
 * missing type NODATA rather than REFUSED; nothing is forwarded (`--no-resolv`).
 */
export async function startDnsmasq (hosts: string[], conf: string[]): Promise<Dnsmasq> {
  const dir = await mkdtemp(join(tmpdir(), 'meshgate-dnsmasq-'))
  await chmod(dir, 0o755) // dnsmasq started as root reads its files as nobody
  const hostsFile = join(dir, 'hosts')
  const confFile = join(dir, 'dnsmasq.conf')
  await writeFile(hostsFile, hosts.join('\n') + '\n', { mode: 0o644 })
  await writeFile(confFile, ['local=/mesh.test/', ...conf].join('\n') + '\n', { mode: 0o644 })
  let child: ChildProcess | undefined
  let port = 0
  for (let attempt = 0; attempt < 5 && child === undefined; attempt++) {
    port = 20_000 + Math.floor(Math.random() * 40_000)
    child = await launch(port, confFile, hostsFile)
  }
  if (child === undefined) throw new Error('dnsmasq did not start on any of 5 random ports')
  const running = child
  const exited = new Promise<void>((resolve) => { running.once('exit', () => resolve()) })
  const kill = async (): Promise<void> => {
    if (running.exitCode === null && running.signalCode === null) running.kill('SIGTERM')
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 2000))])
  }
  return {
    port,
    setHosts: async (lines) => {
      await writeFile(hostsFile, lines.join('\n') + '\n', { mode: 0o644 })
      running.kill('SIGHUP')
      await new Promise((resolve) => setTimeout(resolve, 50)) // let it reread before the test looks
    },
    kill,
    stop: async () => {
      await kill()
      await rm(dir, { recursive: true, force: true })
    },
  }
}

function launch (port: number, confFile: string, hostsFile: string): Promise<ChildProcess | undefined> {
  const child = spawn(DNSMASQ, [
    `--port=${port}`, '--listen-address=127.0.0.1', '--bind-interfaces', '--no-resolv', '--no-hosts',
    '--keep-in-foreground', `--conf-file=${confFile}`, `--addn-hosts=${hostsFile}`, '--local-ttl=1',
    '--log-facility=-', '--pid-file=',
  ], { stdio: ['ignore', 'ignore', 'pipe'] })
  return new Promise((resolve) => {
    let log = ''
    const timer = setTimeout(() => { child.kill('SIGKILL'); resolve(undefined) }, 3000)
    child.stderr?.on('data', (chunk: Buffer) => {
      log += chunk.toString()
      if (log.includes('started, version')) { clearTimeout(timer); resolve(child) }
    })
    child.once('exit', () => { clearTimeout(timer); resolve(undefined) }) // port taken: try another
  })
}
