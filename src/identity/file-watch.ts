/**
 * Watches a few files for change, the way identity rotation needs it: `fs.watch` on the
 * directories that hold them (an atomic rename replaces the inode, and kubelet swaps a `..data`
 * symlink, so watching the files themselves misses changes), events debounced into one check, a
 * re-check on a bounded period as a fallback, and one check at a time (an event during a check
 * runs one more after it). What a check does is the owner's: identity rotation
 * (src/identity/rotation.ts) and the gateway's trust-domain roots (src/gateway/domain-roots.ts).
 */
import { watch, type FSWatcher } from 'node:fs'
import { dirname } from 'node:path'
import type { Logger } from 'pino'

export interface FileWatchOptions<T> {
  /** The files whose directories are watched. */
  files: readonly string[]
  /** Wait after the last event before checking, ms. */
  debounceMs: number
  /** Check this often even without an event, ms (0 = never). */
  recheckMs: number
  /** Reads the files and acts on what changed; called one at a time. */
  check: () => Promise<T>
  logger: Logger
}

export class FileWatch<T> {
  readonly #options: FileWatchOptions<T>
  readonly #watchers: FSWatcher[] = []
  #debounce: NodeJS.Timeout | undefined
  #interval: NodeJS.Timeout | undefined
  #running: Promise<T> | undefined
  #again = false
  #closed = false

  constructor (options: FileWatchOptions<T>) {
    this.#options = options
  }

  /** True once close() was called: a check in progress should then have no effect. */
  get closed (): boolean {
    return this.#closed
  }

  /** Starts watching the directories and the periodic re-check. */
  start (): void {
    for (const dir of new Set(this.#options.files.map((f) => dirname(f)))) {
      try {
        const watcher = watch(dir, { persistent: false }, () => this.#schedule())
        watcher.on('error', (err) => this.#options.logger.debug({ err, dir }, 'directory watch failed; the periodic re-check goes on'))
        this.#watchers.push(watcher)
      } catch (err) {
        this.#options.logger.warn({ dir, reason: (err as NodeJS.ErrnoException).code ?? String(err) }, 'cannot watch the directory; only the periodic re-check sees changes')
      }
    }
    const period = this.#options.recheckMs
    if (period > 0) {
      this.#interval = setInterval(() => { this.check().catch(() => {}) }, period)
      this.#interval.unref()
    }
  }

  /** Stops watching; a check in progress finishes, and no other starts. */
  close (): void {
    this.#closed = true
    clearTimeout(this.#debounce)
    clearInterval(this.#interval)
    for (const w of this.#watchers) w.close()
    this.#watchers.length = 0
  }

  /** Checks now (or joins the check in progress, and runs one more after it). */
  async check (): Promise<T> {
    if (this.#running !== undefined) {
      this.#again = true
      return await this.#running
    }
    this.#running = this.#options.check()
    try {
      return await this.#running
    } finally {
      this.#running = undefined
      if (this.#again && !this.#closed) {
        this.#again = false
        this.#schedule()
      }
    }
  }

  #schedule (): void {
    if (this.#closed) return
    clearTimeout(this.#debounce)
    this.#debounce = setTimeout(() => { this.check().catch(() => {}) }, this.#options.debounceMs)
    this.#debounce.unref()
  }
}
