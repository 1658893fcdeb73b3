/**
 * Cross-field checks of the multi-cluster keys, against the raw document: a service's `cluster`
 * and `failover` name a configured cluster; the gateway exports only services of this cluster.
 */
import { describeValue, isRecord, type Context, type Path } from './schema.js'

type Raw = Record<string, unknown>

function section (raw: Raw, key: string): Raw {
  const value = raw[key]
  return isRecord(value) ? value : {}
}

function problem (ctx: Context, path: Path, value: unknown, expected: string): void {
  ctx.problems.push({ path, found: describeValue(value), expected })
}

export function checkMulticluster (raw: Raw, ctx: Context): void {
  const clusters = Object.keys(section(raw, 'clusters'))
  const known = clusters.length === 0 ? 'clusters is empty' : `one of: ${clusters.join(', ')}`
  const services = section(raw, 'services')
  for (const [service, config] of Object.entries(services)) {
    if (!isRecord(config)) continue
    for (const key of ['cluster', 'failover'] as const) {
      const value = config[key]
      if (typeof value === 'string' && !clusters.includes(value)) problem(ctx, ['services', service, key], value, `the name of a cluster in clusters (${known})`)
    }
  }
  const exports = section(section(raw, 'gateway'), 'exports')
  for (const name of Object.keys(exports)) {
    const service = services[name]
    if (!isRecord(service)) {
      problem(ctx, ['gateway', 'exports', name], name, 'the name of a service in services (the gateway resolves exports through discovery)')
    } else if (service.cluster !== undefined) {
      problem(ctx, ['gateway', 'exports', name], name, 'a service of this cluster (a gateway never relays to another cluster)')
    }
  }
}
