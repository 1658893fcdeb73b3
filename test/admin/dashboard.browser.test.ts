// The dashboard in a real browser (Debian's chromium via playwright-core): charts render and update
// while telemetry flows through the real admin server; the tap fills and follows a filter.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { combineTelemetry, type Telemetry } from '../../src/telemetry.js'
import { requestEndEvent, requestEvent, tunnelEvent } from '../metrics/events.js'
import { startHarness, type Harness } from './harness.js'

const CHROMIUM = '/usr/bin/chromium'
const OUTPUT = join(process.cwd(), 'test-output')
const skip = !existsSync(CHROMIUM) && process.env.MESHGATE_REQUIRE_BROWSER !== '1' ? `${CHROMIUM} is not installed (apt-get install chromium)` : false

let h: Harness
let context: BrowserContext
let profile: string
let traffic: NodeJS.Timeout | undefined

/** Emits a steady mix: three authorities (web.demo's requests on route `canary`), some 5xx, a few tunnels, peer sessions. */
function startTraffic (telemetry: Telemetry, h: Harness): NodeJS.Timeout {
  const authorities = ['web.demo', 'api.demo', 'auth.demo']
  h.metrics.transportObserver.sessionOpened?.('h2', 'client')
  h.metrics.transportObserver.sessionOpened?.('h2', 'server')
  h.metrics.transportObserver.streamOpened?.('h2', 'client')
  let n = 0
  const timer = setInterval(() => {
    for (let i = 0; i < 6; i++) {
      n++
      const authority = authorities[n % 3]
      const status = n % 10 === 0 ? 503 : 200
      const route = authority === 'web.demo' ? 'canary' : undefined
      telemetry.request(requestEvent({ authority, route, status, path: `/items/${n % 7}`, requestId: `r${n}`, durationSeconds: 0.001 + (n % 20) / 1000 }))
      telemetry.requestEnd(requestEndEvent({ authority, route, status, requestBytes: 100, responseBytes: 2000 }))
    }
    telemetry.tunnel(tunnelEvent({ phase: 'open' }))
    telemetry.tunnel(tunnelEvent({ phase: 'close', bytesIn: 50_000, bytesOut: 120_000, durationSeconds: 0.2 }))
  }, 25)
  return timer
}

async function number (page: Page, selector: string, attribute: string): Promise<number> {
  return Number(await page.getAttribute(selector, attribute) ?? '0')
}

/** Counts painted pixels in a canvas (the grid alone paints few; lines paint many). */
async function paintedPixels (page: Page, id: string): Promise<number> {
  return await page.evaluate((canvasId) => {
    const canvas = document.getElementById(canvasId) as HTMLCanvasElement
    const data = canvas.getContext('2d')?.getImageData(0, 0, canvas.width, canvas.height).data
    let painted = 0
    if (data !== undefined) for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++
    return painted
  }, id)
}

before(async () => {
  if (skip !== false) return
  h = await startHarness({ tap: { ratePerSecond: 50 } })
  traffic = startTraffic(combineTelemetry(h.metrics.telemetry, h.tap), h)
  profile = await mkdtemp(join(tmpdir(), 'meshgate-chromium-'))
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1400, height: 1000 },
  })
})

after(async () => {
  if (traffic !== undefined) clearInterval(traffic)
  await context?.close()
  await h?.admin.close()
  if (profile !== undefined) await rm(profile, { recursive: true, force: true })
})

test('the dashboard draws live charts, tables and the tap while traffic flows', { skip, timeout: 60_000 }, async () => {
  const page = await context.newPage()
  const errors: string[] = []
  page.on('pageerror', (err) => { errors.push(err.message) })
  page.on('console', (msg) => { if (msg.type() === 'error') errors.push(msg.text()) })
  await page.goto(`${h.admin.url}/?interval=200`)

  await page.waitForFunction(() => Number(document.body.dataset.updates) >= 3, undefined, { timeout: 15_000 })
    .catch(async (err: Error) => { throw new Error(`${err.message}; status: ${await page.textContent('#status') ?? ''}; errors: ${errors.join(' | ')}`) })
  const points = await number(page, '#chart-rps', 'data-points')
  assert.ok(points >= 3, `rps chart points ${points}`)
  for (const id of ['chart-rps', 'chart-success', 'chart-latency', 'chart-tcp']) {
    assert.ok(await paintedPixels(page, id) > 2000, `${id} has lines drawn`)
  }
  const rps = Number.parseFloat(await page.textContent('#kpi-rps') ?? '')
  assert.ok(rps > 50, `request rate ${rps}/s`)
  const success = Number.parseFloat(await page.textContent('#kpi-success') ?? '')
  assert.ok(success > 80 && success < 100, `success ${success}% (one in ten is a 503)`)
  assert.match(await page.textContent('#kpi-p99') ?? '', /ms$/)
  assert.notEqual(await page.textContent('#kpi-bytes'), '–')
  assert.equal(await page.textContent('#kpi-sessions'), '2')

  const authorities = await page.$$eval('#authorities tr td:first-child', (tds) => tds.map((td) => td.textContent))
  assert.deepEqual([...authorities].sort(), ['api.demo', 'auth.demo', 'web.demo'])
  // The last column is the route: web.demo's row names it, the others have none.
  const routes = await page.$$eval('#authorities tr', (trs) => trs.map((tr) => `${tr.querySelector('td:first-child')?.textContent ?? ''}=${tr.querySelector('td:last-child')?.textContent ?? ''}`))
  assert.deepEqual([...routes].sort(), ['api.demo=–', 'auth.demo=–', 'web.demo=canary'])
  const sessions = await page.$$eval('#sessions tr', (trs) => trs.map((tr) => tr.textContent))
  assert.equal(sessions.length, 2)

  await page.waitForSelector('#tap tr', { timeout: 10_000 })

  // The charts keep moving.
  await page.waitForFunction((before) => Number(document.getElementById('chart-rps')?.dataset.points) > before, points, { timeout: 10_000 })

  // A tap filter: only api.demo from now on.
  await page.fill('#tap-authority', 'api.demo')
  await page.click('#tap-form button[type=submit]')
  await page.waitForFunction(() => {
    const cells = [...document.querySelectorAll('#tap tr td:nth-child(5)')].map((td) => td.textContent)
    return cells.length >= 5 && cells.every((c) => c === 'api.demo')
  }, undefined, { timeout: 10_000 })
  // Several more rounds of traffic: still nothing but api.demo.
  await page.waitForTimeout(300)
  const tapped = await page.$$eval('#tap tr td:nth-child(5)', (tds) => tds.map((td) => td.textContent))
  assert.ok(tapped.length >= 5)
  assert.deepEqual([...new Set(tapped)], ['api.demo'])

  await mkdir(OUTPUT, { recursive: true })
  await page.screenshot({ path: join(OUTPUT, 'dashboard.png'), fullPage: true })
  assert.deepEqual(errors, [])
  await page.close()
})
