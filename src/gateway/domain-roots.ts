/**
 * Keeps the gateway's caller roots (gateway.trustDomains.<domain>.ca) current while it runs: the
 * CA files are watched like the node's own identity files (src/identity/file-watch.ts), a changed
 * file is checked (PEM certificates, every one a CA, at least one) and its roots handed to
 * `apply` for the checks of new sessions; a bad file is refused with E_TRUST_ROOTS_REJECTED in
 * the log (the file and why) and `meshgate_identity_reloads_refused_total`, and the domain keeps
 * the roots it had.
 */
import { createHash, X509Certificate } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import type { Logger } from 'pino'
import { certificatesOfPem } from '../../core/identity/chain.js'
import type { IdentityConfig } from '../config/types.js'
import { FileWatch } from '../identity/file-watch.js'
import type { IdentityObserver } from '../identity/observer.js'

/** The verdict on one domain's CA file: its roots, or why not (`kind` is the metric's reason). */
export type RootsVerdict = { ok: true, roots: X509Certificate[] } | { ok: false, kind: 'no_certificate' | 'unparsable' | 'not_ca', reason: string }

/** Checks the text of a trust domain's CA file. Pure. */
export function checkDomainRoots (pem: string): RootsVerdict {
  let certs: X509Certificate[]
  try {
    certs = certificatesOfPem(pem)
  } catch (err) {
    return { ok: false, kind: 'unparsable', reason: `holds a certificate that cannot be parsed (${(err as Error).message})` }
  }
  if (certs.length === 0) return { ok: false, kind: 'no_certificate', reason: 'holds no PEM certificate (expected the CA\'s -----BEGIN CERTIFICATE----- block)' }
  const leaf = certs.find((c) => !c.ca)
  if (leaf !== undefined) return { ok: false, kind: 'not_ca', reason: `holds a certificate that is not a CA (subject ${leaf.subject.replace(/\n/g, ', ')}, no basicConstraints CA:TRUE)` }
  return { ok: true, roots: certs }
}

/** The metrics' `role` label of a domain's roots (bounded: domains come from the config). */
export function rootsRole (domain: string): string {
  return `gateway-trust:${domain}`
}

export interface DomainRootsWatchOptions {
  /** Each domain's CA file (gateway.trustDomains.<domain>.ca). */
  files: ReadonlyMap<string, string>
  /** The text of each file as the gateway started with it. */
  initial: ReadonlyMap<string, string>
  /** Puts a domain's new roots into use; a throw counts as a refusal. */
  apply: (domain: string, roots: X509Certificate[]) => void
  config: IdentityConfig
  logger: Logger
  observer: IdentityObserver
}

export type RootsOutcome = 'unchanged' | 'reloaded' | 'refused'

const hashOf = (text: string): string => createHash('sha256').update(text).digest('hex')

export class DomainRootsWatch {
  readonly #options: DomainRootsWatchOptions
  readonly #logger: Logger
  readonly #watch: FileWatch<RootsOutcome>
  /** Per domain, the hash of the file as last read, accepted or not: the same bytes are not checked twice. */
  readonly #seen = new Map<string, string>()
  readonly #readErrors = new Map<string, string>()

  constructor (options: DomainRootsWatchOptions) {
    this.#options = options
    this.#logger = options.logger.child({ component: 'gateway-trust' })
    for (const [domain, text] of options.initial) this.#seen.set(domain, hashOf(text))
    this.#watch = new FileWatch({
      files: [...options.files.values()],
      debounceMs: options.config.debounceMs,
      recheckMs: options.config.recheckMs,
      check: async () => await this.#checkAll(),
      logger: this.#logger,
    })
  }

  start (): void { this.#watch.start() }
  close (): void { this.#watch.close() }

  /** Reads every domain's file now; 'reloaded' if one changed and was put into use, 'refused' if one was refused. */
  async check (): Promise<RootsOutcome> {
    return await this.#watch.check()
  }

  async #checkAll (): Promise<RootsOutcome> {
    let outcome: RootsOutcome = 'unchanged'
    for (const [domain, file] of this.#options.files) {
      const one = await this.#checkOne(domain, file)
      if (one === 'refused' || (one === 'reloaded' && outcome === 'unchanged')) outcome = one
    }
    return outcome
  }

  async #checkOne (domain: string, file: string): Promise<RootsOutcome> {
    const { observer } = this.#options
    const role = rootsRole(domain)
    let text: string
    try {
      text = await readFile(file, 'utf8')
      this.#readErrors.delete(domain)
    } catch (err) {
      // Mid-swap the file may be missing for a moment: log each distinct failure once.
      const reason = (err as NodeJS.ErrnoException).code ?? String(err)
      if (this.#readErrors.get(domain) === reason) return 'refused'
      this.#readErrors.set(domain, reason)
      return this.#refuse(domain, file, 'unreadable', `cannot read it (${reason})`)
    }
    const hash = hashOf(text)
    if (this.#seen.get(domain) === hash || this.#watch.closed) return 'unchanged'
    this.#seen.set(domain, hash)
    const verdict = checkDomainRoots(text)
    if (!verdict.ok) return this.#refuse(domain, file, verdict.kind, verdict.reason)
    try {
      this.#options.apply(domain, verdict.roots)
    } catch (err) {
      return this.#refuse(domain, file, 'unloadable', `the listeners did not load it: ${err instanceof Error ? err.message : String(err)}`)
    }
    observer.reloaded(role)
    this.#logger.info({ domain, file, roots: verdict.roots.map((c) => c.fingerprint256) },
      `trust domain ${domain}: new CA file in use; new sessions and new streams of sessions up are checked against it`)
    return 'reloaded'
  }

  #refuse (domain: string, file: string, kind: string, reason: string): RootsOutcome {
    this.#options.observer.refused(rootsRole(domain), kind)
    this.#logger.error({ code: 'E_TRUST_ROOTS_REJECTED', domain, file, kind, reason },
      `refused the new CA file of trust domain ${domain}: ${file} ${reason}; the previous roots stay in use`)
    return 'refused'
  }
}
