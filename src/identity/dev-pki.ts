/**
 * The development PKI: on first start, a CA and one certificate per workload written to a
 * directory; afterwards the files are reused, and only missing, stale or foreign certificates are
 * issued again from the saved CA. With `certLifetimeMs` the workload certificates are short-lived
 * and a running proxy renews them (startDevPkiRenewal), so identity rotation can be watched live.
 */
import { X509Certificate } from 'node:crypto'
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Logger } from 'pino'
import { MeshError } from '../../core/errors.js'
import type { DevPkiConfig, DevPkiDomainConfig } from '../config/types.js'
import { createCertificateAuthority, loadCertificateAuthority, spiffeId, type CertificateAuthority } from '../../core/identity/pki.js'

/** A workload certificate this close to expiry is issued again, ms (7 days; a third of a shorter lifetime). */
const RENEW_BEFORE_MS = 7 * 86_400_000
/** Backdating of a short-lived certificate's notBefore (clock skew between processes), ms (1 min). */
const SHORT_LIVED_BACKDATE_MS = 60_000
/** Bounds of the renewal check period (a sixth of the lifetime), ms (1 s – 1 h). */
const RENEW_CHECK_MIN_MS = 1000
const RENEW_CHECK_MAX_MS = 3_600_000

/** How long before notAfter a certificate of this lifetime is issued again, ms. */
function renewBeforeMs (lifetimeMs: number | undefined): number {
  return lifetimeMs === undefined ? RENEW_BEFORE_MS : Math.min(RENEW_BEFORE_MS, lifetimeMs / 3)
}
/** A lock older than this is taken to be left over from a crashed process, ms (30 s). */
const STALE_LOCK_MS = 30_000
/** How long to wait for another process holding the lock, ms (15 s). */
const LOCK_WAIT_MS = 15_000

async function exists (file: string): Promise<boolean> {
  try {
    await stat(file)
    return true
  } catch {
    return false
  }
}

/** Writes via a temporary file and rename, so a reader never sees half a PEM. Keys get mode 0600. */
async function writeAtomic (file: string, text: string, mode: number): Promise<void> {
  const temporary = `${file}.${process.pid}.tmp`
  await writeFile(temporary, text, { mode })
  await rename(temporary, file)
}

/** Serialises first-start work between processes sharing one directory (a mkdir lock). */
async function withLock<T> (dir: string, work: () => Promise<T>): Promise<T> {
  const lock = join(dir, '.lock')
  const deadline = Date.now() + LOCK_WAIT_MS
  for (;;) {
    try {
      await mkdir(lock)
      break
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
      const age = await stat(lock).then((s) => Date.now() - s.mtimeMs, () => 0)
      if (age > STALE_LOCK_MS) await rm(lock, { recursive: true, force: true })
      else if (Date.now() > deadline) throw new MeshError('E_CONFIG', `dev PKI directory ${dir} is locked by another process (remove ${lock} if none is running)`)
      else await sleep(50)
    }
  }
  try {
    return await work()
  } finally {
    await rm(lock, { recursive: true, force: true })
  }
}

/** Why the workload certificate at `certFile` must be issued again, or undefined if it is fine. */
async function staleReason (certFile: string, keyFile: string, ca: X509Certificate, id: string, lifetimeMs: number | undefined): Promise<string | undefined> {
  if (!await exists(certFile) || !await exists(keyFile)) return 'missing'
  let cert: X509Certificate
  try {
    cert = new X509Certificate(await readFile(certFile))
  } catch {
    return 'unreadable'
  }
  if (!cert.verify(ca.publicKey)) return 'not issued by the current CA'
  if (!(cert.subjectAltName ?? '').split(/,\s*/).includes(`URI:${id}`)) return `identity is not ${id}`
  const leftMs = Date.parse(cert.validTo) - Date.now()
  if (leftMs < renewBeforeMs(lifetimeMs)) return 'expiring'
  if (lifetimeMs !== undefined && leftMs > lifetimeMs + SHORT_LIVED_BACKDATE_MS) return 'outlives devPki.certLifetimeMs'
  return undefined
}

async function loadOrCreateCa (cfg: DevPkiDomainConfig, logger: Logger): Promise<CertificateAuthority> {
  const certFile = join(cfg.dir, 'ca.crt')
  const keyFile = join(cfg.dir, 'ca.key')
  const [hasCert, hasKey] = [await exists(certFile), await exists(keyFile)]
  if (hasCert && hasKey) {
    try {
      return await loadCertificateAuthority({ cert: await readFile(certFile, 'utf8'), key: await readFile(keyFile, 'utf8') })
    } catch (err) {
      throw new MeshError('E_CONFIG', `dev PKI CA in ${cfg.dir} cannot be loaded (${err instanceof Error ? err.message : String(err)}); delete the directory to start afresh`, { cause: err })
    }
  }
  if (hasCert || hasKey) {
    throw new MeshError('E_CONFIG', `dev PKI in ${cfg.dir} has ${hasCert ? 'ca.crt but no ca.key' : 'ca.key but no ca.crt'}; restore it or delete the directory to start afresh`)
  }
  const ca = await createCertificateAuthority(cfg.trustDomain)
  await writeAtomic(keyFile, ca.key, 0o600)
  await writeAtomic(certFile, ca.cert, 0o644)
  logger.info({ dir: cfg.dir, trustDomain: cfg.trustDomain }, 'dev PKI: created CA')
  return ca
}

/** Loads or creates the CA, then issues every workload certificate that is missing or stale. */
async function issueMissing (cfg: DevPkiDomainConfig, logger: Logger, lifetimeMs: number | undefined): Promise<CertificateAuthority> {
  const ca = await loadOrCreateCa(cfg, logger)
  const caCert = new X509Certificate(ca.cert)
  for (const name of cfg.workloads) {
    const id = spiffeId(cfg.trustDomain, name)
    const certFile = join(cfg.dir, `${name}.crt`)
    const keyFile = join(cfg.dir, `${name}.key`)
    const reason = await staleReason(certFile, keyFile, caCert, id, lifetimeMs)
    if (reason === undefined) continue
    const now = Date.now()
    const issued = await ca.issue(id, lifetimeMs === undefined
      ? { dnsNames: ['localhost'] }
      : { dnsNames: ['localhost'], notBefore: new Date(now - SHORT_LIVED_BACKDATE_MS), notAfter: new Date(now + lifetimeMs) })
    await writeAtomic(keyFile, issued.key, 0o600)
    await writeAtomic(certFile, issued.cert, 0o644)
    logger.info({ dir: cfg.dir, identity: id, reason, notAfter: new X509Certificate(issued.cert).validTo }, 'dev PKI: issued workload certificate')
  }
  return ca
}

/** One trust domain's directory: made, locked, its CA and workloads issued. Returns its CA. */
async function ensureDomain (cfg: DevPkiDomainConfig, logger: Logger, lifetimeMs: number | undefined): Promise<CertificateAuthority> {
  try {
    await mkdir(cfg.dir, { recursive: true, mode: 0o700 })
    return await withLock(cfg.dir, async () => await issueMissing(cfg, logger, lifetimeMs))
  } catch (err) {
    if (err instanceof MeshError) throw err
    throw new MeshError('E_CONFIG', `cannot write dev PKI in ${cfg.dir}: ${errorReason(err)}`, { cause: err })
  }
}

function errorReason (err: unknown): string {
  return (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err))
}

/**
 * Makes sure `cfg.dir` holds `ca.crt`, `ca.key` and, for each workload, `<name>.crt` and
 * `<name>.key` with URI SAN `spiffe://<trustDomain>/ns/default/sa/<name>`. Existing files are
 * kept; a workload certificate is issued again (from the saved CA) only when missing, not signed
 * by that CA, of another identity, or within 7 days of expiry (with `certLifetimeMs`: within a
 * third of it, or valid for longer than it). The key is renamed into place before the
 * certificate; identity rotation's debounce sees the two as one change. Keys get mode 0600.
 * With `trustDomains`, each further domain gets the same in its own directory, and
 * `<dir>/bundle.crt` holds this domain's CA followed by theirs, a trust bundle for `tls.ca`.
 * Throws MeshError `E_CONFIG` when the directory holds half a CA or cannot be written.
 */
export async function ensureDevPki (cfg: DevPkiConfig, logger: Logger): Promise<void> {
  const main = await ensureDomain(cfg, logger, cfg.certLifetimeMs)
  if (cfg.trustDomains === undefined) return
  // Several trust domains, each with its own CA (multi-cluster); processes of different clusters
  // may share these directories, and the first one to start makes a domain's CA.
  const others: CertificateAuthority[] = []
  for (const domain of cfg.trustDomains) others.push(await ensureDomain(domain, logger, cfg.certLifetimeMs))
  const bundle = [main, ...others].map((ca) => ca.cert.trimEnd() + '\n').join('')
  try {
    await withLock(cfg.dir, async () => {
      const file = join(cfg.dir, 'bundle.crt')
      if (await readFile(file, 'utf8').catch(() => '') !== bundle) await writeAtomic(file, bundle, 0o644)
    })
  } catch (err) {
    if (err instanceof MeshError) throw err
    throw new MeshError('E_CONFIG', `cannot write dev PKI bundle in ${cfg.dir}: ${errorReason(err)}`, { cause: err })
  }
}

/** A running renewal of the dev PKI's short-lived certificates. */
export interface DevPkiRenewal {
  stop: () => void
}

/**
 * With `certLifetimeMs`, re-runs ensureDevPki every sixth of the lifetime (1 s – 1 h), so each
 * workload certificate is issued again when a third of its life is left; the proxy's identity
 * rotation then picks the new files up. Without it, does nothing. Failures are logged and retried
 * at the next period.
 */
export function startDevPkiRenewal (cfg: DevPkiConfig, logger: Logger): DevPkiRenewal {
  const lifetimeMs = cfg.certLifetimeMs
  if (lifetimeMs === undefined) return { stop: () => {} }
  const periodMs = Math.min(RENEW_CHECK_MAX_MS, Math.max(RENEW_CHECK_MIN_MS, Math.floor(lifetimeMs / 6)))
  let running = false
  const timer = setInterval(() => {
    if (running) return
    running = true
    ensureDevPki(cfg, logger)
      .catch((err: unknown) => logger.error({ err }, 'dev PKI: renewal failed; retrying at the next period'))
      .finally(() => { running = false })
  }, periodMs)
  timer.unref()
  logger.info({ certLifetimeMs: lifetimeMs, checkEveryMs: periodMs }, 'dev PKI: renewing short-lived workload certificates')
  return { stop: () => clearInterval(timer) }
}
