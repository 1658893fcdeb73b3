/**
 * A short human summary of a loaded config, as `meshgate check` prints it.
 */
import { existsSync } from 'node:fs'
import { dirname } from 'node:path'
import { formatHostPort } from './address.js'
import type { MeshConfig } from './types.js'
import { formatDuration } from './units.js'

function plural (n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`
}

/**
 * What a valid config will do, one line per part (services, discovery, balancing, roles, admin, demo,
 * dev PKI, timeouts),
 * then a warning for each TLS file that does not exist and that devPki will not create.
 */
export function describeConfig (config: MeshConfig): string[] {
  const lines: string[] = []
  const services = Object.entries(config.services)
  lines.push(`services: ${services.length === 0
    ? 'none'
    : services.map(([name, s]) => `${name} (${s.source !== undefined ? `source ${s.source}` : plural(s.endpoints.length, 'endpoint')}${s.aliases.length > 0 ? `; aliases ${s.aliases.join(', ')}` : ''})`).join(', ')}`)
  const sources = Object.entries(config.discovery?.sources ?? {})
  if (sources.length > 0) {
    lines.push(`discovery: ${sources.map(([name, s]) => `${name} ${s.kind}${s.kind === 'file' ? ` ${s.path}` : ` (${plural(Object.keys(s.services).length, 'service')})`}`).join(', ')}`)
  }
  if (config.outbound !== undefined) {
    const b = config.balancing
    const fa = b.failureAccrual
    const eject = fa.consecutiveFailures > 0 ? `eject after ${fa.consecutiveFailures} failures in a row` : 'no ejection on failures in a row'
    lines.push(`balancing: requests ${b.requests}, tunnels least-loaded; ${eject} (backoff ${formatDuration(fa.backoffInitialMs)}–${formatDuration(fa.backoffMaxMs)}); wait ${formatDuration(b.queue.maxWaitMs)} for an endpoint`)
  }
  if (config.outbound !== undefined) {
    const listeners = config.outbound.listeners.map((l) =>
      `${l.name} ${formatHostPort(l.host, l.port)} ${l.protocol}${l.tcpService !== undefined ? ` (tcp → ${l.tcpService})` : ''}`)
    lines.push(`outbound: ${listeners.join(', ')}`)
  }
  if (config.inbound !== undefined) {
    const listeners = config.inbound.listeners.map((l) => formatHostPort(l.host, l.port)).join(', ')
    lines.push(`inbound: ${listeners} → ${config.inbound.targets.map((t) => `${t.address} ${t.protocol}`).join(', ')}`)
  }
  for (const [name, c] of Object.entries(config.clusters ?? {})) lines.push(`cluster ${name}: gateway ${c.gateway} (${c.identity}) over ${c.transport}`)
  if (config.gateway !== undefined) {
    const g = config.gateway
    const exports = Object.entries(g.exports).map(([name, e]) => `${name} ${e.mode}`).join(', ')
    lines.push(`gateway: ${g.listeners.map((l) => formatHostPort(l.host, l.port)).join(', ')} for ${Object.keys(g.trustDomains).join(', ')} → exports ${exports}`)
  }
  lines.push(`admin: ${config.admin === undefined ? 'off' : `http://${formatHostPort(config.admin.host, config.admin.port)}/`}`)
  if (config.demo !== undefined) lines.push(`demo: http ${formatHostPort(config.demo.host, config.demo.httpPort)}, tcp echo ${formatHostPort(config.demo.host, config.demo.tcpPort)}`)
  if (config.devPki !== undefined) lines.push(`devPki: ${config.devPki.dir} (${config.devPki.trustDomain}: ${config.devPki.workloads.join(', ')})`)
  lines.push(`timeouts: connect ${formatDuration(config.timeouts.connectMs)}, request ${formatDuration(config.timeouts.requestMs)}, idle ${formatDuration(config.timeouts.idleMs)}; drain ${formatDuration(config.drainMs)}`)
  for (const role of ['outbound', 'inbound'] as const) {
    const tls = config[role]?.tls
    if (tls === undefined) continue
    for (const kind of ['ca', 'cert', 'key'] as const) {
      const madeByDevPki = config.devPki !== undefined && dirname(tls[kind]) === config.devPki.dir
      if (!existsSync(tls[kind]) && !madeByDevPki) lines.push(`warning: ${role}.tls.${kind} ${tls[kind]} does not exist yet`)
    }
  }
  return lines
}
