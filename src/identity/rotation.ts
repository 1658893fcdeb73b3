/**
 * Identity rotation for one role's TLS files: watches the directories that hold them (so atomic
 * renames count: kubelet's `..data` symlink swap, cert-manager's write-then-rename), re-reads
 * and hashes them on a bounded period as a fallback (both through file-watch.ts), checks changed material
 * (core/identity/check.ts) and hands what passes to `apply`. Refused material is logged with the
 * file and the reason, counted, and the old identity stays in use.
 */
import { createHash } from 'node:crypto'
import type { Logger } from 'pino'
import { checkMaterial, type LeafSummary } from '../../core/identity/check.js'
import type { IdentityConfig, TlsFiles } from '../config/types.js'
import type { TlsMaterial } from '../../transports/contract.js'
import { FileWatch } from './file-watch.js'
import type { IdentityObserver } from './observer.js'
import { readTlsMaterial } from './tls-files.js'

export interface IdentityRotationOptions {
  /** `inbound`, `outbound` or `gateway`: the log's and the metrics' label. */
  role: string
  files: TlsFiles
  /** The material the role started with (already in use). */
  initial: TlsMaterial
  /** Puts checked material into use (listeners, pools); a throw counts as a refusal. */
  apply: (tls: TlsMaterial) => void
  config: IdentityConfig
  logger: Logger
  observer: IdentityObserver
  /** The clock (tests); default `new Date()`. */
  now?: () => Date
}

/** What one check of the files did. */
export type CheckOutcome = 'unchanged' | 'rotated' | 'refused'

function digest (tls: TlsMaterial): string {
  return createHash('sha256').update(tls.ca).update('\0').update(tls.cert).update('\0').update(tls.key).digest('hex')
}

export class IdentityRotation {
  readonly #options: IdentityRotationOptions
  readonly #logger: Logger
  readonly #now: () => Date
  readonly #watch: FileWatch<CheckOutcome>
  #current: TlsMaterial
  #leaf: LeafSummary | undefined
  /** Hash of the files as last read, accepted or not: the same bytes are not checked twice. */
  #seen: string
  #lastReadError: string | undefined
  #warnedSerial: string | undefined

  constructor (options: IdentityRotationOptions) {
    this.#options = options
    this.#logger = options.logger.child({ component: 'identity', role: options.role })
    this.#now = options.now ?? (() => new Date())
    this.#current = options.initial
    this.#seen = digest(options.initial)
    const { files, config } = options
    this.#watch = new FileWatch({
      files: [files.ca, files.cert, files.key],
      debounceMs: config.debounceMs,
      recheckMs: config.recheckMs,
      check: async () => await this.#checkOnce(),
      logger: this.#logger,
    })
    const verdict = checkMaterial(options.initial, this.#now())
    if (verdict.ok) {
      this.#leaf = verdict.leaf
      options.observer.certificate(options.role, verdict.leaf.notAfter)
      this.#warnIfExpiring()
    } else {
      // Started with it anyway, as before rotation existed; say so loudly.
      this.#logger.warn({ code: 'E_IDENTITY_REJECTED', file: options.files[verdict.part], reason: verdict.reason }, `the ${verdict.part} file in use ${verdict.reason}`)
    }
  }

  /** The material in use now. */
  get current (): TlsMaterial {
    return this.#current
  }

  /** The leaf certificate in use now (undefined if the starting one did not pass the check). */
  get leaf (): LeafSummary | undefined {
    return this.#leaf
  }

  /** Starts watching the files' directories and the periodic re-check. */
  start (): void {
    this.#watch.start()
  }

  /** Stops watching; a check in progress finishes without effect on later events. */
  close (): void {
    this.#watch.close()
  }

  /** Reads the files now, and puts them into use if they changed and pass the checks. */
  async check (): Promise<CheckOutcome> {
    return await this.#watch.check()
  }

  async #checkOnce (): Promise<CheckOutcome> {
    const { role, files, observer } = this.#options
    let next: TlsMaterial
    try {
      next = await readTlsMaterial(files)
      this.#lastReadError = undefined
    } catch (err) {
      // Mid-swap a file may be missing for a moment: log each distinct failure once.
      const reason = err instanceof Error ? err.message : String(err)
      if (reason !== this.#lastReadError) {
        this.#lastReadError = reason
        observer.refused(role, 'unreadable')
        this.#logger.error({ code: 'E_IDENTITY_REJECTED', reason }, `cannot read the TLS files; the previous identity stays in use: ${reason}`)
      }
      return 'refused'
    }
    this.#warnIfExpiring()
    const hash = digest(next)
    if (hash === this.#seen || this.#watch.closed) return 'unchanged'
    this.#seen = hash
    const verdict = checkMaterial(next, this.#now())
    if (!verdict.ok) {
      // Only the bundle changed and it no longer trusts our own issuer: the CA file is at fault
      // (the old root was dropped before certificates of the new one were in place).
      if (verdict.kind === 'untrusted' && next.cert === this.#current.cert && next.ca !== this.#current.ca) {
        return this.#refuse('untrusted', files.ca, `ca file ${files.ca} does not hold the CA that issued the certificate in use (${files.cert}): ${verdict.reason}`)
      }
      return this.#refuse(verdict.kind, files[verdict.part], `${verdict.part} file ${files[verdict.part]} ${verdict.reason}`)
    }
    const runningIdentity = this.#leaf?.identity
    if (runningIdentity !== undefined && verdict.leaf.identity !== runningIdentity) {
      return this.#refuse('identity_changed', files.cert, `cert file ${files.cert} carries identity ${verdict.leaf.identity ?? '(no SPIFFE URI SAN)'}, not ${runningIdentity} (a new identity needs a restart)`)
    }
    try {
      this.#options.apply(next)
    } catch (err) {
      return this.#refuse('unloadable', files.cert, `the transports did not load it: ${err instanceof Error ? err.message : String(err)}`)
    }
    const previous = this.#leaf
    this.#current = next
    this.#leaf = verdict.leaf
    observer.certificate(role, verdict.leaf.notAfter)
    observer.reloaded(role)
    this.#logger.info({
      serial: verdict.leaf.serial,
      previousSerial: previous?.serial,
      notAfter: verdict.leaf.notAfter.toISOString(),
      identity: verdict.leaf.identity,
      trustedRoots: verdict.leaf.roots.length,
    }, 'identity rotated: new sessions use the new certificate and trust bundle; sessions up drain as they are')
    this.#warnIfExpiring()
    return 'rotated'
  }

  #refuse (kind: string, file: string, reason: string): CheckOutcome {
    this.#options.observer.refused(this.#options.role, kind)
    this.#logger.error({ code: 'E_IDENTITY_REJECTED', file, kind, reason, serialInUse: this.#leaf?.serial }, `refused new TLS files: ${reason}; the previous identity stays in use`)
    return 'refused'
  }

  /** Warns once per certificate when its notAfter is nearer than `expiryWarningMs`. */
  #warnIfExpiring (): void {
    const leaf = this.#leaf
    if (leaf === undefined || leaf.serial === this.#warnedSerial) return
    const leftMs = leaf.notAfter.getTime() - this.#now().getTime()
    if (leftMs >= this.#options.config.expiryWarningMs) return
    this.#warnedSerial = leaf.serial
    this.#logger.warn({ serial: leaf.serial, notAfter: leaf.notAfter.toISOString(), secondsLeft: Math.round(leftMs / 1000), thresholdSeconds: this.#options.config.expiryWarningMs / 1000 },
      leftMs <= 0 ? 'the certificate in use has expired: peers refuse new sessions until it is rotated' : 'the certificate in use expires soon: rotate it')
  }
}
