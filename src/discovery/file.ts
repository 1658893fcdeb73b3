// The `file` source: a YAML/JSON file of services and endpoints, reloaded when it changes.
import { watch, type FSWatcher } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { basename, dirname, resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'
import type { ConfigProblem } from '../../core/errors.js'
import type { Logger } from '../log.js'
import type { DiscoveryErrorCode } from './codes.js'
import { endpointsFromEntries, isRecord, render } from './endpoint-shape.js'
import { ServiceFeed } from './feed.js'
import { noopDiscoveryObserver, type DiscoveryObserver } from './observer.js'
import type { DiscoverySource, DiscoveryUpdate, Endpoint } from './types.js'

/**
 * Options of the file source. The file holds
 * `services: { <name>: { endpoints: [{ peer, identity, target, weight?, transport?, zone? }] } }`
 * (JSON is YAML too).
 */
export interface FileSourceOptions {
  /** Path of the file (absolute, or relative to the process cwd). */
  path: string
  /** Quiet time after the last change before reloading, ms (default 100 ms). */
  debounceMs?: number
}

export const FILE_SOURCE_DEFAULTS = {
  debounceMs: 100, // 100 ms
} as const

type Parsed = { ok: true, services: Map<string, Endpoint[]> } | { ok: false, code: DiscoveryErrorCode, message: string, problems?: ConfigProblem[] }

/** Parses and validates the file's text; all-or-nothing. */
export function parseDiscoveryFile (text: string): Parsed {
  let doc: unknown
  try {
    doc = parseYaml(text, { prettyErrors: true })
  } catch (err) {
    return { ok: false, code: 'E_DISCOVERY_FILE_SYNTAX', message: err instanceof Error ? err.message : String(err) }
  }
  const problems: ConfigProblem[] = []
  const services = new Map<string, Endpoint[]>()
  if (!isRecord(doc) || !isRecord(doc.services)) {
    problems.push({ path: 'services', found: render(isRecord(doc) ? doc.services : doc), expected: 'a map of service name → { endpoints: [...] }' })
  } else {
    for (const key of Object.keys(doc)) {
      if (key !== 'services') problems.push({ path: key, found: render(doc[key]), expected: 'no such key (known: services)' })
    }
    for (const [name, entry] of Object.entries(doc.services)) {
      if (!isRecord(entry)) {
        problems.push({ path: `services.${name}`, found: render(entry), expected: 'an object with endpoints' })
        continue
      }
      for (const key of Object.keys(entry)) {
        if (key !== 'endpoints') problems.push({ path: `services.${name}.${key}`, found: render(entry[key]), expected: 'no such key (known: endpoints)' })
      }
      services.set(name, endpointsFromEntries(entry.endpoints, `services.${name}.endpoints`, problems))
    }
  }
  if (problems.length > 0) return { ok: false, code: 'E_DISCOVERY_FILE_INVALID', message: `${problems.length} problem(s)`, problems }
  return { ok: true, services }
}

/**
 * Watches the file's directory (not the file), so an editor's or ConfigMap's atomic rename is
 * seen as well as an in-place write. Every change is debounced, read and validated as a whole:
 * a file that does not parse or validate is rejected with a logged error (a code from
 * codes.ts) and the last good sets stay. A service that leaves a good file `doesNotExist`.
 * Until the first good read, subscribers hear nothing.
 */
export class FileSource implements DiscoverySource {
  readonly name: string
  readonly path: string
  private readonly feed: ServiceFeed
  private readonly debounceMs: number
  private readonly logger: Logger | undefined
  private readonly observer: DiscoveryObserver
  private watcher: FSWatcher | undefined
  private timer: NodeJS.Timeout | undefined
  private lastText: string | undefined
  private loading: Promise<void> = Promise.resolve()
  private closed = false
  private readonly firstLoad: Promise<void>

  constructor (options: FileSourceOptions, logger?: Logger, observer: DiscoveryObserver = noopDiscoveryObserver) {
    this.path = resolve(options.path)
    this.name = `file:${this.path}`
    this.debounceMs = options.debounceMs ?? FILE_SOURCE_DEFAULTS.debounceMs
    this.logger = logger
    this.observer = observer
    this.feed = new ServiceFeed(this.name, observer)
    const file = basename(this.path)
    try {
      this.watcher = watch(dirname(this.path), { persistent: false }, (_event, name) => {
        // A null name (some platforms) or a sibling rename (ConfigMap `..data`) may be our file too.
        if (name === null || name === file || String(name).startsWith('..')) this.schedule()
      })
      this.watcher.on('error', (err) => {
        this.fail('E_DISCOVERY_FILE_READ', `watching ${dirname(this.path)} failed: ${err.message}`)
      })
    } catch (err) {
      // The directory does not exist (yet): the file is read once; a reload() call retries.
      this.fail('E_DISCOVERY_FILE_READ', `cannot watch ${dirname(this.path)}: ${(err as Error).message}`)
    }
    this.firstLoad = this.reload()
  }

  /** Resolves once the first read was attempted (good or not). */
  ready (): Promise<void> {
    return this.firstLoad
  }

  watch (service: string, onUpdate: (update: DiscoveryUpdate) => void): () => void {
    if (this.lastText !== undefined && this.feed.current(service) === undefined) this.feed.publish(service, null)
    return this.feed.watch(service, onUpdate)
  }

  /** Reads the file now (also what a change triggers). Resolves when applied or rejected. */
  reload (): Promise<void> {
    this.loading = this.loading.then(() => this.load())
    return this.loading
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.watcher?.close()
    this.watcher = undefined
    this.feed.close()
    await this.loading
  }

  private schedule (): void {
    if (this.closed) return
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.reload().catch(() => {})
    }, this.debounceMs)
    this.timer.unref()
  }

  private async load (): Promise<void> {
    if (this.closed) return
    let text: string
    try {
      text = await readFile(this.path, 'utf8')
    } catch (err) {
      // Between unlink and rename, or never written: keep what we have.
      return this.fail('E_DISCOVERY_FILE_READ', `cannot read ${this.path}: ${(err as Error).message}`)
    }
    if (this.closed || text === this.lastText) return
    const parsed = parseDiscoveryFile(text)
    if (!parsed.ok) return this.fail(parsed.code, parsed.message, parsed.problems)
    this.lastText = text
    for (const service of this.feed.services()) {
      if (!parsed.services.has(service)) this.feed.publish(service, null)
    }
    for (const [service, endpoints] of parsed.services) this.feed.publish(service, endpoints)
    this.logger?.info({ file: this.path, services: parsed.services.size }, 'discovery file loaded')
  }

  private fail (code: DiscoveryErrorCode, message: string, problems?: ConfigProblem[]): void {
    this.observer.error(this.name, code)
    this.logger?.error({ code, file: this.path, problems }, `discovery file rejected, last good set kept: ${message}`)
  }
}
