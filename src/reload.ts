/**
 * Live config changes for `meshgate run`: the config file is watched (through its directory, so
 * editors' atomic renames are seen too) and reread on SIGHUP. A new config that does not load is
 * refused as a whole: every problem is logged as `meshgate check` prints it, and the old config
 * stays. A good one is applied to what can change in place (routes, splits, retries, timeouts and
 * budgets of routes; inbound rate limits); anything else it changes (a route's plugins among
 * them) is named in one warning, as needing a restart. Requests in flight keep the policy they started with.
 */
import { watch, type FSWatcher } from 'node:fs'
import { basename, dirname } from 'node:path'
import type { Logger } from 'pino'
import { loadConfig } from './config/load.js'
import type { MeshConfig } from './config/types.js'
import { ConfigError } from '../core/errors.js'

/** The YAML paths of `next` that differ from `current` outside what a reload applies. */
export function needsRestart (current: MeshConfig, next: MeshConfig): string[] {
  const strip = (c: MeshConfig): Record<string, unknown> => {
    const services: Record<string, unknown> = {}
    for (const [name, s] of Object.entries(c.services)) {
      const { routes: _routes, retryBudget: _budget, ...rest } = s
      services[name] = rest
    }
    const inbound = c.inbound === undefined ? undefined : { ...c.inbound, rateLimit: undefined }
    return { ...c, services, inbound, dtab: undefined, log: { ...c.log, level: undefined } }
  }
  const a = strip(current)
  const b = strip(next)
  const changed: string[] = []
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (key === 'services') {
      const sa = a.services as Record<string, unknown>
      const sb = b.services as Record<string, unknown>
      for (const name of new Set([...Object.keys(sa), ...Object.keys(sb)])) {
        if (JSON.stringify(sa[name]) !== JSON.stringify(sb[name])) changed.push(`services.${name}`)
      }
    } else if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) {
      changed.push(key)
    }
  }
  changed.push(...routePluginChanges(current, next))
  return changed
}

/**
 * Routes whose plugins differ (a route's chain is loaded at start: route-plugins.ts), as
 * `services.<service>.routes.<route>.plugins`.
 */
function routePluginChanges (current: MeshConfig, next: MeshConfig): string[] {
  const pluginsOf = (c: MeshConfig): Map<string, string> => {
    const out = new Map<string, string>()
    for (const [service, s] of Object.entries(c.services)) {
      for (const r of s.routes ?? []) {
        if (r.plugins !== undefined && r.plugins.length > 0) out.set(`services.${service}.routes.${r.name}.plugins`, JSON.stringify(r.plugins))
      }
    }
    return out
  }
  const a = pluginsOf(current)
  const b = pluginsOf(next)
  return [...new Set([...a.keys(), ...b.keys()])].filter((path) => a.get(path) !== b.get(path))
}

export interface ConfigWatch {
  /** Stops watching and listening for SIGHUP. Safe twice. */
  close: () => void
}

/**
 * Calls `apply` with each new config that loads (after `debounceMs` of quiet, 200 ms by default),
 * on a change of `file` or on SIGHUP; logs every problem of one that does not.
 */
export function watchConfig (file: string, logger: Logger, apply: (config: MeshConfig) => void, debounceMs = 200): ConfigWatch {
  let timer: NodeJS.Timeout | undefined
  let reading = false
  let again = false
  const reload = (reason: string): void => {
    if (reading) { again = true; return }
    reading = true
    loadConfig(file).then((config) => {
      logger.info({ file, reason }, 'config reloaded')
      apply(config)
    }, (err: unknown) => {
      if (err instanceof ConfigError) {
        logger.error({ file, reason, code: err.code, problems: err.problems }, `config not reloaded, the running one stays:\n${err.message}`)
      } else {
        logger.error({ file, reason, code: 'E_CONFIG', err: err instanceof Error ? err.message : String(err) }, 'config not reloaded, the running one stays')
      }
    }).finally(() => {
      reading = false
      if (again) { again = false; reload('changed while reading') }
    })
  }
  const soon = (): void => {
    if (timer !== undefined) clearTimeout(timer)
    timer = setTimeout(() => { timer = undefined; reload('file changed') }, debounceMs)
  }
  const name = basename(file)
  let watcher: FSWatcher | undefined
  try {
    watcher = watch(dirname(file), { persistent: false }, (_event, changed) => {
      if (changed === null || changed === name) soon()
    })
    watcher.on('error', (err) => { logger.warn({ file, err: err.message }, 'config file watch failed; SIGHUP still reloads') })
  } catch (err) {
    logger.warn({ file, err: (err as Error).message }, 'cannot watch the config file; SIGHUP still reloads')
  }
  const onHup = (): void => { reload('SIGHUP') }
  process.on('SIGHUP', onHup)
  let closed = false
  return {
    close: () => {
      if (closed) return
      closed = true
      if (timer !== undefined) clearTimeout(timer)
      watcher?.close()
      process.off('SIGHUP', onHup)
    },
  }
}
