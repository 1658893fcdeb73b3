/**
 * Checks that span more than one field: references between sections, duplicate ports and names.
 * They read the raw document defensively, so they still run (and report) when other parts of the
 * file are malformed; whatever is of the wrong type here is the schema's problem to report.
 */
import { basename, dirname, isAbsolute, resolve } from 'node:path'
import { DEFAULTS } from './defaults.js'
import { formatHostPort, hostsOverlap, isLoopback, isWildcard, parseHostPort } from './address.js'
import { describeValue, formatPath, isRecord, type Context, type Path } from './schema.js'
import { checkMulticluster } from './multicluster-checks.js'
import { checkRoutes } from './route-checks.js'

type Raw = Record<string, unknown>

function records (value: unknown): Array<[number, Raw]> {
  if (!Array.isArray(value)) return []
  return value.flatMap((item: unknown, index) => isRecord(item) ? [[index, item] as [number, Raw]] : [])
}

function section (raw: Raw, key: string): Raw {
  const value = raw[key]
  return isRecord(value) ? value : {}
}

function str (value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined
}

function problem (ctx: Context, path: Path, value: unknown, expected: string): void {
  ctx.problems.push({ path, found: describeValue(value), expected })
}

/** tcpService names a service; a `tcp` listener has one; listener names are unique. */
function checkOutboundListeners (raw: Raw, ctx: Context): void {
  const services = Object.keys(section(raw, 'services'))
  const known = services.length === 0 ? 'services is empty' : `one of: ${services.join(', ')}`
  const names = new Map<string, number>()
  for (const [i, listener] of records(section(raw, 'outbound').listeners)) {
    const path = ['outbound', 'listeners', i]
    const tcpService = listener.tcpService
    if ((tcpService === undefined || tcpService === null) && listener.protocol === 'tcp') {
      problem(ctx, [...path, 'tcpService'], tcpService, 'the name of a service (a listener with protocol tcp needs one)')
    } else if (typeof tcpService === 'string' && !services.includes(tcpService)) {
      problem(ctx, [...path, 'tcpService'], tcpService, `the name of a service in services (${known})`)
    }
    const name = str(listener.name)
    if (name === undefined) continue
    const first = names.get(name)
    if (first !== undefined) problem(ctx, [...path, 'name'], name, `a name not already used by outbound.listeners[${first}]`)
    else names.set(name, i)
  }
}

interface Socket { path: Path, host: string, port: number }

/** Every socket this process binds, with the path of its port. */
function sockets (raw: Raw): Socket[] {
  const out: Socket[] = []
  const add = (path: Path, host: unknown, port: unknown): void => {
    if (typeof host === 'string' && typeof port === 'number' && Number.isInteger(port) && port > 0) out.push({ path, host, port })
  }
  for (const role of ['outbound', 'inbound']) {
    for (const [i, l] of records(section(raw, role).listeners)) add([role, 'listeners', i, 'port'], l.host, l.port)
  }
  if (raw.admin !== false) {
    const admin = section(raw, 'admin')
    add(['admin', 'port'], admin.host ?? DEFAULTS.admin.host, admin.port ?? DEFAULTS.admin.port)
  }
  if (isRecord(raw.demo)) {
    const host = raw.demo.host ?? DEFAULTS.demo.host
    add(['demo', 'httpPort'], host, raw.demo.httpPort ?? DEFAULTS.demo.httpPort)
    add(['demo', 'tcpPort'], host, raw.demo.tcpPort ?? DEFAULTS.demo.tcpPort)
  }
  return out
}

/** No two sockets of this process on the same port of overlapping hosts (port 0 excepted). */
function checkPorts (raw: Raw, ctx: Context): void {
  const seen: Socket[] = []
  for (const socket of sockets(raw)) {
    const clash = seen.find((s) => s.port === socket.port && hostsOverlap(s.host, socket.host))
    if (clash !== undefined) {
      const where = `${formatPath(clash.path.slice(0, -1))} (${formatHostPort(clash.host, clash.port)})`
      problem(ctx, socket.path, socket.port, `a port not already taken by ${where}`)
    } else {
      seen.push(socket)
    }
  }
}

/** Each authority routes to one service: aliases are unique and are not another service's name. */
function checkAliases (raw: Raw, ctx: Context): void {
  const services = section(raw, 'services')
  const owner = new Map<string, string>(Object.keys(services).map((name) => [name, name]))
  for (const [service, config] of Object.entries(services)) {
    if (!isRecord(config) || !Array.isArray(config.aliases)) continue
    config.aliases.forEach((alias: unknown, i) => {
      if (typeof alias !== 'string') return
      const taken = owner.get(alias)
      if (taken !== undefined && taken !== service) {
        problem(ctx, ['services', service, 'aliases', i], alias, `an authority not already routed to service ${taken}`)
      } else {
        owner.set(alias, service)
      }
    })
  }
}

/**
 * Inbound target addresses are unique, and an endpoint whose peer is this very process's inbound
 * listener names a target that inbound delivers to (else every request would be refused).
 */
function checkTargets (raw: Raw, ctx: Context): void {
  const inbound = section(raw, 'inbound')
  const targets = new Map<string, number>()
  for (const [i, target] of records(inbound.targets)) {
    const address = str(target.address)
    if (address === undefined) continue
    if (targets.has(address)) problem(ctx, ['inbound', 'targets', i, 'address'], address, `an address not already listed at inbound.targets[${targets.get(address) ?? 0}]`)
    else targets.set(address, i)
  }
  if (!isRecord(raw.inbound)) return
  const listeners = records(inbound.listeners)
  for (const [service, config] of Object.entries(section(raw, 'services'))) {
    if (!isRecord(config)) continue
    for (const [i, endpoint] of records(config.endpoints)) {
      const peer = parseHostPort(str(endpoint.peer) ?? '')
      const target = str(endpoint.target)
      if (peer === undefined || target === undefined || targets.has(target)) continue
      // Only a sure match: the same host, or loopback reaching a wildcard or loopback listener.
      // (A wildcard listener and a remote-looking peer on the same port is usually another machine.)
      const local = listeners.find(([, l]) => l.port === peer.port && typeof l.host === 'string' &&
        (l.host === peer.host || (isLoopback(peer.host) && (isLoopback(l.host) || isWildcard(l.host)))))
      if (local === undefined) continue
      problem(ctx, ['services', service, 'endpoints', i, 'target'], target,
        `an address listed in inbound.targets (the peer ${endpoint.peer as string} is this process's inbound.listeners[${local[0]}])`)
    }
  }
}

/** TLS files inside devPki.dir are files devPki creates: ca.crt or a listed workload's cert and key. */
function checkDevPkiFiles (raw: Raw, ctx: Context): void {
  const devPki = section(raw, 'devPki')
  const dir = str(devPki.dir)
  const workloads = Array.isArray(devPki.workloads) ? devPki.workloads.filter((w): w is string => typeof w === 'string') : []
  workloads.forEach((workload, i) => {
    if (workloads.indexOf(workload) !== i) problem(ctx, ['devPki', 'workloads', i], workload, 'a workload name listed once')
  })
  if (dir === undefined) return
  const pkiDir = resolve(ctx.baseDir, dir)
  for (const role of ['outbound', 'inbound']) {
    const tls = section(section(raw, role), 'tls')
    for (const kind of ['ca', 'cert', 'key'] as const) {
      const file = str(tls[kind])
      if (file === undefined) continue
      const absolute = isAbsolute(file) ? file : resolve(ctx.baseDir, file)
      if (dirname(absolute) !== pkiDir) continue
      const base = basename(absolute)
      const ok = kind === 'ca'
        ? base === 'ca.crt' || (base === 'bundle.crt' && Array.isArray(devPki.trustDomains))
        : workloads.some((w) => base === `${w}.${kind === 'cert' ? 'crt' : 'key'}`)
      if (ok) continue
      const wanted = kind === 'ca' ? `ca.crt${Array.isArray(devPki.trustDomains) ? ' or bundle.crt' : ''}` : `<workload>.${kind === 'cert' ? 'crt' : 'key'} for a workload in devPki.workloads (${[...new Set(workloads)].join(', ')})`
      problem(ctx, [role, 'tls', kind], file, `${wanted}, since devPki creates the files of ${dir}`)
    }
  }
}

/**
 * Discovery references: a service's `source` is a configured source; `static` is not a source
 * name (it means inline endpoints); a dns or kubernetes source lists exactly the services that
 * name it (an entry for any other service could never be used).
 */
function checkDiscovery (raw: Raw, ctx: Context): void {
  const sources = section(section(raw, 'discovery'), 'sources')
  const names = Object.keys(sources)
  if (Object.hasOwn(sources, 'static')) problem(ctx, ['discovery', 'sources', 'static'], 'static', 'a name other than static (reserved for services\' own endpoints)')
  const known = names.length === 0 ? 'discovery.sources is empty' : `one of: ${names.join(', ')}`
  const users = new Map<string, string[]>()
  for (const [service, config] of Object.entries(section(raw, 'services'))) {
    if (!isRecord(config)) continue
    const source = str(config.source)
    if (source === undefined || config.endpoints !== undefined) continue // both: the schema's problem
    if (!Object.hasOwn(sources, source) || source === 'static') {
      problem(ctx, ['services', service, 'source'], source, `the name of a source in discovery.sources (${known})`)
      continue
    }
    users.set(source, [...(users.get(source) ?? []), service])
    const def = sources[source]
    if (!isRecord(def) || (def.kind !== 'dns' && def.kind !== 'kubernetes' && def.kind !== 'namerd') || !isRecord(def.services)) continue
    if (!Object.hasOwn(def.services, service)) {
      problem(ctx, ['services', service, 'source'], source, `a source that lists ${service} (discovery.sources.${source}.services has no ${service})`)
    }
  }
  for (const [name, def] of Object.entries(sources)) {
    if (!isRecord(def) || (def.kind !== 'dns' && def.kind !== 'kubernetes' && def.kind !== 'namerd') || !isRecord(def.services)) continue
    const using = users.get(name) ?? []
    for (const service of Object.keys(def.services)) {
      if (!using.includes(service)) problem(ctx, ['discovery', 'sources', name, 'services', service], service, `a service in services with source: ${name}`)
    }
  }
}

/** Runs every cross-field check against the raw document. */
export function checkReferences (raw: unknown, ctx: Context): void {
  if (!isRecord(raw)) return
  checkOutboundListeners(raw, ctx)
  checkPorts(raw, ctx)
  checkAliases(raw, ctx)
  checkTargets(raw, ctx)
  checkDevPkiFiles(raw, ctx)
  checkDiscovery(raw, ctx)
  checkMulticluster(raw, ctx)
  checkRoutes(raw, ctx)
}
