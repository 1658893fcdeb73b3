/** Small pieces the peer definitions share: the URLs of a case's files, exit descriptions. */
import type { CaseRun } from '../types.js'

/** `https://host:port/<file>` for every planned file of the run (IPv6 hosts bracketed). */
export function urlsFor (run: CaseRun, host: string = run.host): string[] {
  const authority = `${host.includes(':') ? `[${host}]` : host}:${run.port}`
  return run.files.map(f => `https://${authority}/${f.name}`)
}

/** "gtlsclient exited with status 1" / "… was killed". */
export function describeExit (program: string, code: number | null): string {
  if (code === 0) return `${program} exited with status 0`
  return code === null ? `${program} was killed (time limit?)` : `${program} exited with status ${code}`
}
