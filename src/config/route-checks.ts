/**
 * Cross-field checks of routes, read defensively from the raw document like checks.ts: a backend
 * names a configured service; a subset of a service with listed endpoints selects at least one of
 * them; a backend path resolves through the dtab to at least one service.
 */
import { parseDtab, parsePath, resolvePath, servicesOf, type Dentry } from '../route/dtab.js'
import { describeValue, isRecord, type Context, type Path } from './schema.js'

type Raw = Record<string, unknown>

function problem (ctx: Context, path: Path, value: unknown, expected: string): void {
  ctx.problems.push({ path, found: describeValue(value), expected })
}

function labelsMatch (endpoint: unknown, subset: Raw): boolean {
  if (!isRecord(endpoint) || !isRecord(endpoint.labels)) return false
  const labels = endpoint.labels
  return Object.entries(subset).every(([k, v]) => labels[k] !== undefined && String(labels[k]) === String(v))
}

function dtabOf (raw: Raw): Dentry[] | undefined {
  if (typeof raw.dtab !== 'string') return undefined
  try { return parseDtab(raw.dtab) } catch { return undefined } // the schema reports it
}

export function checkRoutes (raw: Raw, ctx: Context): void {
  const services = isRecord(raw.services) ? raw.services : {}
  const names = Object.keys(services)
  const known = names.length === 0 ? 'services is empty' : `one of: ${names.join(', ')}`
  const dtab = dtabOf(raw)
  for (const [service, config] of Object.entries(services)) {
    if (!isRecord(config) || !Array.isArray(config.routes)) continue
    config.routes.forEach((route: unknown, r) => {
      if (!isRecord(route) || !Array.isArray(route.backends)) return
      route.backends.forEach((backend: unknown, b) => {
        if (!isRecord(backend)) return
        const at = ['services', service, 'routes', r, 'backends', b]
        const target = typeof backend.service === 'string' ? backend.service : service
        if (typeof backend.service === 'string' && !Object.hasOwn(services, backend.service)) {
          problem(ctx, [...at, 'service'], backend.service, `the name of a service in services (${known})`)
          return
        }
        const def = services[target]
        // A subset at weight 0 gets no traffic: it may name endpoints that are yet to come.
        if (isRecord(backend.subset) && backend.weight !== 0 && isRecord(def) && Array.isArray(def.endpoints) &&
          !def.endpoints.some((e: unknown) => labelsMatch(e, backend.subset as Raw))) {
          problem(ctx, [...at, 'subset'], backend.subset, `labels that select at least one of services.${target}.endpoints (none has ${Object.entries(backend.subset).map(([k, v]) => `${k}: ${String(v)}`).join(', ')})`)
        }
        if (typeof backend.path === 'string') {
          if (raw.dtab === undefined) { problem(ctx, [...at, 'path'], backend.path, 'a backend service or subset (a path needs a top-level dtab)'); return }
          if (dtab === undefined) return
          let path: string[]
          try { path = parsePath(backend.path) } catch { return } // the schema reports it
          const resolved = resolvePath(dtab, path, (s) => Object.hasOwn(services, s))
          if (servicesOf(resolved).length === 0) {
            problem(ctx, [...at, 'path'], backend.path, `a path the dtab resolves to a service /#/<name> of services (it resolves to ${resolved.kind === 'fail' ? 'a failure (!) or a loop' : 'nothing'})`)
          }
        }
      })
    })
  }
}
