/**
 * The quick interop subset that runs inside `npm test`: handshake, transfer and http3 against
 * ngtcp2 (gtlsserver/gtlsclient) and quic-go, both directions, through the same runner as
 * `npm run interop`. A cell skips with its reason when the addon, a peer or its build is missing
 * (the runner's "unsupported"); a cell that runs must pass. Logs: test-output/interop-quick/.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { rmSync } from 'node:fs'
import { join } from 'node:path'
import { quicAvailable, QUIC_INSTALL_HINT } from '../../native/index.js'
import { packageRoot, runMatrix } from '../../interop/run.js'
import { resultLine, rowLabel, type RunSummary } from '../../interop/report.js'
import type { CaseName, Direction } from '../../interop/types.js'

const QUICK_CASES: CaseName[] = ['handshake', 'transfer', 'http3']
const DIRECTIONS: Direction[] = ['server', 'client']
const PEERS = ['ngtcp2', 'quic-go']

const ADDON_SKIP: string | false = quicAvailable() ? false : `QUIC addon not built (${QUIC_INSTALL_HINT})`

/** Kept after the run (test-output/ is gitignored) so a failed cell's logs can be read. */
const outDir = join(packageRoot(), 'test-output', 'interop-quick')
rmSync(outDir, { recursive: true, force: true })

/** One run of the runner per peer, shared by that peer's cells. */
const runs = new Map<string, Promise<RunSummary>>()
function matrixFor (peer: string): Promise<RunSummary> {
  let run = runs.get(peer)
  if (run === undefined) {
    run = runMatrix({
      peers: [peer],
      cases: QUICK_CASES,
      directions: DIRECTIONS,
      outDir: join(outDir, peer),
      timeoutMs: 30_000,
      attemptUnsupported: false,
      host: '127.0.0.1',
    })
    runs.set(peer, run)
  }
  return run
}

for (const peer of PEERS) {
  for (const direction of DIRECTIONS) {
    for (const testCase of QUICK_CASES) {
      test(`interop ${rowLabel(peer, direction)}: ${testCase}`, { skip: ADDON_SKIP }, async (t) => {
        const summary = await matrixFor(peer)
        const cell = summary.results.find(r => r.direction === direction && r.testCase === testCase)
        assert.ok(cell !== undefined, 'the runner reported no result for this cell')
        if (cell.status === 'unsupported') {
          t.skip(cell.reason)
          return
        }
        assert.equal(cell.status, 'pass', `${resultLine(cell, false)}\n(logs: ${join(outDir, peer, cell.logs)})`)
      })
    }
  }
}
