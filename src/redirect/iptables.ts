/**
 * Installs and removes the redirect rules (rules.ts) in the current network namespace by running
 * `iptables`. Install is idempotent (our chains are flushed and refilled, the jumps added once);
 * remove deletes only our jumps and chains and says so when there was nothing to remove.
 */
import { spawnSync } from 'node:child_process'
import { MeshError } from '../../core/errors.js'
import { chainRules, INBOUND_CHAIN, JUMPS, OUTPUT_CHAIN, type IptablesArgs, type RedirectOptions } from './rules.js'

export interface IptablesResult { status: number, stdout: string, stderr: string }

/** Runs one iptables command; `binary` is `iptables` unless the caller says otherwise. */
export type IptablesRunner = (args: IptablesArgs) => IptablesResult

export function systemIptables (binary = 'iptables'): IptablesRunner {
  return (args) => {
    // -w: wait for the xtables lock rather than fail when another writer holds it.
    const result = spawnSync(binary, ['-w', ...args], { encoding: 'utf8' })
    if (result.error !== undefined) {
      const code = (result.error as NodeJS.ErrnoException).code
      throw new MeshError('E_REDIRECT', code === 'ENOENT'
        ? `${binary} is not installed (apt-get install iptables)`
        : `cannot run ${binary}: ${result.error.message}`, { cause: result.error })
    }
    return { status: result.status ?? 1, stdout: result.stdout, stderr: result.stderr }
  }
}

/** iptables' own words for "not allowed": exit status 4 and/or these messages. */
function denied (r: IptablesResult): boolean {
  return /Permission denied|you must be root|Operation not permitted/i.test(r.stderr)
}

function fail (args: IptablesArgs, r: IptablesResult): MeshError {
  const said = r.stderr.trim().split('\n')[0] ?? ''
  if (denied(r)) {
    return new MeshError('E_REDIRECT_DENIED', `not permitted to change iptables rules in this network namespace (needs root or CAP_NET_ADMIN; an init container needs securityContext.capabilities.add [NET_ADMIN, NET_RAW]): iptables said: ${said}`)
  }
  return new MeshError('E_REDIRECT', `iptables ${args.join(' ')} failed (status ${r.status}): ${said}`)
}

function must (run: IptablesRunner, args: IptablesArgs): void {
  const r = run(args)
  if (r.status !== 0) throw fail(args, r)
}

/** True when the chain exists in the nat table; throws on anything but "no such chain". */
function chainExists (run: IptablesRunner, chain: string): boolean {
  const r = run(['-t', 'nat', '-S', chain])
  if (r.status === 0) return true
  if (denied(r)) throw fail(['-t', 'nat', '-S', chain], r)
  return false
}

function jumpExists (run: IptablesRunner, builtin: string, chain: string): boolean {
  const args = ['-t', 'nat', '-C', builtin, '-p', 'tcp', '-j', chain]
  const r = run(args)
  if (r.status === 0) return true
  if (denied(r)) throw fail(args, r)
  return false
}

/** Writes our chains and hooks them in; running it twice leaves the same rules. */
export function installRedirect (run: IptablesRunner, options: RedirectOptions): { rules: number } {
  for (const chain of [OUTPUT_CHAIN, INBOUND_CHAIN]) {
    if (chainExists(run, chain)) must(run, ['-t', 'nat', '-F', chain])
    else must(run, ['-t', 'nat', '-N', chain])
  }
  const rules = chainRules(options)
  for (const args of rules) must(run, args)
  for (const [builtin, chain] of JUMPS) {
    if (!jumpExists(run, builtin, chain)) must(run, ['-t', 'nat', '-A', builtin, '-p', 'tcp', '-j', chain])
  }
  return { rules: rules.length }
}

/** Unhooks and deletes our chains; `removed: false` when none of it was there. */
export function removeRedirect (run: IptablesRunner): { removed: boolean } {
  let removed = false
  for (const [builtin, chain] of JUMPS) {
    // A jump added twice by hand is deleted twice; bounded all the same.
    for (let i = 0; i < 16 && jumpExists(run, builtin, chain); i++) {
      must(run, ['-t', 'nat', '-D', builtin, '-p', 'tcp', '-j', chain])
      removed = true
    }
  }
  for (const chain of [OUTPUT_CHAIN, INBOUND_CHAIN]) {
    if (!chainExists(run, chain)) continue
    must(run, ['-t', 'nat', '-F', chain])
    must(run, ['-t', 'nat', '-X', chain])
    removed = true
  }
  return { removed }
}

/** `iptables -t nat -S` of our chains, for `meshgate redirect show` and tests. */
export function showRedirect (run: IptablesRunner): string {
  const lines: string[] = []
  for (const chain of [OUTPUT_CHAIN, INBOUND_CHAIN]) {
    const r = run(['-t', 'nat', '-S', chain])
    if (r.status === 0) lines.push(r.stdout.trimEnd())
    else if (denied(r)) throw fail(['-t', 'nat', '-S', chain], r)
  }
  return lines.join('\n')
}
