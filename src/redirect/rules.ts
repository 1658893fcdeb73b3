/**
 * The iptables (nat table) rules of the transparent redirect, as data: what an init container
 * installs in a pod's network namespace so that the app needs no proxy settings.
 *
 *   OUTPUT     → MESHGATE_OUTPUT:  the proxy's own UID, loopback and excluded ports go out as
 *                they are; every other new TCP connection is redirected to the outbound listener.
 *   PREROUTING → MESHGATE_INBOUND: TCP arriving for one of the app's ports is redirected to the
 *                inbound listener; everything else (the proxy's own ports among it) is untouched.
 *
 * Both chains are meshgate's own, so removing them takes nothing else with them.
 */

export const OUTPUT_CHAIN = 'MESHGATE_OUTPUT'
export const INBOUND_CHAIN = 'MESHGATE_INBOUND'

export interface RedirectOptions {
  /** UID the proxy runs as: its own connections are never redirected (no loop). */
  proxyUid: number
  /** Port of the outbound listener that app traffic is sent to (default 4140). */
  outboundPort: number
  /** Port of the inbound listener that traffic to the app's ports is sent to (default 4143). */
  inboundPort: number
  /** The app's ports whose inbound TCP is redirected (none: no inbound redirect). */
  appPorts: number[]
  /** Destination ports the app reaches directly (e.g. the Kubernetes API, 443). */
  excludeOutboundPorts: number[]
}

/** One iptables invocation's arguments, table included (`-t nat ...`). */
export type IptablesArgs = string[]

/** The rules of both chains, in order, as `-A CHAIN ...` argument lists. */
export function chainRules (o: RedirectOptions): IptablesArgs[] {
  const out: IptablesArgs[] = [
    ['-t', 'nat', '-A', OUTPUT_CHAIN, '-m', 'owner', '--uid-owner', String(o.proxyUid), '-j', 'RETURN'],
    ['-t', 'nat', '-A', OUTPUT_CHAIN, '-o', 'lo', '-j', 'RETURN'],
    ['-t', 'nat', '-A', OUTPUT_CHAIN, '-d', '127.0.0.0/8', '-j', 'RETURN'],
  ]
  for (const ports of chunks(o.excludeOutboundPorts)) {
    out.push(['-t', 'nat', '-A', OUTPUT_CHAIN, '-p', 'tcp', '-m', 'multiport', '--dports', ports, '-j', 'RETURN'])
  }
  out.push(['-t', 'nat', '-A', OUTPUT_CHAIN, '-p', 'tcp', '-j', 'REDIRECT', '--to-ports', String(o.outboundPort)])
  for (const ports of chunks(o.appPorts)) {
    out.push(['-t', 'nat', '-A', INBOUND_CHAIN, '-p', 'tcp', '-m', 'multiport', '--dports', ports, '-j', 'REDIRECT', '--to-ports', String(o.inboundPort)])
  }
  return out
}

/** The jumps from the built-in chains into ours: `[builtin, ours]`. */
export const JUMPS: ReadonlyArray<readonly [string, string]> = [['OUTPUT', OUTPUT_CHAIN], ['PREROUTING', INBOUND_CHAIN]]

/** multiport takes at most 15 ports per rule. */
function chunks (ports: number[]): string[] {
  const out: string[] = []
  for (let i = 0; i < ports.length; i += 15) out.push(ports.slice(i, i + 15).join(','))
  return out
}

/**
 * Ports that must not be an app port or excluded: redirecting the proxy's own listeners to
 * themselves would loop. Returns a problem per clash.
 */
export function checkRedirectOptions (o: RedirectOptions): string[] {
  const problems: string[] = []
  for (const [name, port] of [['--outbound-port', o.outboundPort], ['--inbound-port', o.inboundPort]] as const) {
    if (o.appPorts.includes(port)) problems.push(`--app-ports must not contain ${name} ${port}: inbound traffic to the proxy itself would be redirected to it`)
  }
  if (o.outboundPort === o.inboundPort) problems.push(`--outbound-port and --inbound-port must differ (both ${o.outboundPort})`)
  return problems
}
