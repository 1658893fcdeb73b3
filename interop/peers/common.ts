/** Small pieces the peer definitions share: the URLs of a case's files, exit descriptions. */
import type { CaseRun } from '../types.js'

/** `host:port`, the host bracketed when it is an IPv6 literal. */
export function hostPort (host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`
}

/** `https://host:port/<file>` for every planned file of the run. */
export function urlsFor (run: CaseRun, host: string = run.host): string[] {
  return run.files.map(f => `https://${hostPort(host, run.port)}/${f.name}`)
}

/** "gtlsclient exited with status 1" / "… was killed". */
export function describeExit (program: string, code: number | null): string {
  if (code === 0) return `${program} exited with status 0`
  return code === null ? `${program} was killed (time limit?)` : `${program} exited with status ${code}`
}
