/**
 * Peer: Chromium (Debian's package `chromium`) as an HTTP/3 client of our server, driven by
 * playwright-core. QUIC is forced for the test origin (--origin-to-force-quic-on) and the test
 * server key is allowed by its SPKI hash; the page fetches the case's files, hashes them with
 * WebCrypto and reports each entry's nextHopProtocol, which must be `h3`.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { CaseName, CaseRun, ClientOutcome, PeerDefinition } from '../types.js'
import { hostPort } from './common.js'

const EXECUTABLE = '/usr/bin/chromium'
/** Launching Chromium on a busy two-core machine is slow, ms. */
const LAUNCH_TIMEOUT_MS = 30_000

const NOT_FROM_A_PAGE: Partial<Record<CaseName, string>> = {
  chacha20: 'chromium: cipher suites cannot be restricted from the command line',
  keyupdate: 'chromium: no way to trigger a key update',
  retry: 'meshgate-as-server case only (Chromium is a client)',
  resumption: 'chromium: no control over when a second connection resumes the session',
  zerortt: 'chromium: no control over 0-RTT',
  connectionmigration: 'chromium: no way to change the local address from the command line',
}

interface PageReport {
  navigation: string
  entries: Array<{ name: string, protocol: string }>
  sha256: Record<string, string>
  errors: string[]
}

async function runClient (run: CaseRun): Promise<ClientOutcome> {
  const { chromium } = await import('playwright-core')
  const origin = hostPort(run.host, run.port)
  const profile = mkdtempSync(join(run.dir, 'chromium-profile-'))
  writeFileSync(join(run.www, 'index.html'), '<!doctype html><title>meshgate interop</title><p>meshgate interop</p>\n')
  // Chromium asks for it on every page; answering 200 keeps a 404 out of the console log.
  writeFileSync(join(run.www, 'favicon.ico'), '')
  const log: string[] = []
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: EXECUTABLE,
    headless: true,
    timeout: LAUNCH_TIMEOUT_MS,
    ignoreHTTPSErrors: false,
    args: [
      '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync',
      '--enable-quic', `--origin-to-force-quic-on=${origin}`,
      `--ignore-certificate-errors-spki-list=${run.certs.serverSpkiSha256}`,
    ],
  })
  const onAbort = (): void => { context.close().catch(() => {}) }
  run.signal.addEventListener('abort', onAbort, { once: true })
  try {
    const page = context.pages()[0] ?? await context.newPage()
    page.on('console', msg => log.push(`console: ${msg.text()}`))
    page.on('requestfailed', req => log.push(`request failed: ${req.url()} ${req.failure()?.errorText ?? ''}`))
    const response = await page.goto(`https://${origin}/index.html`, { timeout: 20_000 })
    log.push(`navigation status ${response?.status() ?? 'none'}`)
    const names = run.files.map(f => f.name)
    const report = await page.evaluate(async (files: string[]): Promise<PageReport> => {
      const hex = (buf: ArrayBuffer): string => [...new Uint8Array(buf)].map(b => b.toString(16).padStart(2, '0')).join('')
      const sha256: Record<string, string> = {}
      const errors: string[] = []
      await Promise.all(files.map(async (name) => {
        try {
          const res = await fetch(`/${name}`, { cache: 'no-store' })
          if (res.status !== 200) throw new Error(`status ${res.status}`)
          sha256[name] = hex(await crypto.subtle.digest('SHA-256', await res.arrayBuffer()))
        } catch (err) {
          errors.push(`${name}: ${String(err)}`)
        }
      }))
      const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming | undefined
      const entries = (performance.getEntriesByType('resource') as PerformanceResourceTiming[])
        .map(e => ({ name: e.name, protocol: e.nextHopProtocol }))
      return { navigation: nav?.nextHopProtocol ?? '', entries, sha256, errors }
    }, names)
    log.push(`navigation nextHopProtocol=${report.navigation}`)
    for (const e of report.entries) log.push(`resource ${e.name} nextHopProtocol=${e.protocol}`)
    for (const e of report.errors) log.push(`error ${e}`)
    const notH3 = report.entries.filter(e => e.protocol !== 'h3')
    const problems: string[] = []
    if (report.navigation !== 'h3') problems.push(`page loaded over "${report.navigation}", not h3`)
    if (notH3.length > 0) problems.push(`${notH3.length} resource(s) not over h3`)
    problems.push(...report.errors)
    return {
      ok: problems.length === 0,
      detail: problems.length === 0 ? `page and ${report.entries.length} fetches over h3` : problems.join('; '),
      sha256: report.sha256,
    }
  } finally {
    run.signal.removeEventListener('abort', onAbort)
    await context.close().catch(() => {})
    writeFileSync(join(run.dir, 'client.log'), log.join('\n') + '\n')
    rmSync(profile, { recursive: true, force: true })
  }
}

export const chromiumPeer: PeerDefinition = {
  name: 'chromium',
  description: 'Chromium (Debian) via playwright-core, QUIC forced for the test origin',
  protocol: 'h3',
  packages: ['chromium'],
  clientCertificate: false,
  available: async () => {
    if (!existsSync(EXECUTABLE)) return 'not installed: apt-get install -y chromium'
    try {
      await import('playwright-core')
    } catch {
      return 'playwright-core is not installed (npm ci installs it as a devDependency)'
    }
    return undefined
  },
  supports: (testCase, role) => role === 'server' ? 'chromium is a client only' : NOT_FROM_A_PAGE[testCase],
  client: runClient,
}
