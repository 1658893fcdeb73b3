// bench/scenarios/idle-floor.ts and its child bench/idle-floor/stack.ts: every layer starts, its
// server (the admin layer's) answers, each start gives a reading, and the report says how the
// top layer stands against the idle-RSS target. The figures themselves belong to the bench.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { test } from 'node:test'
import { FLOOR_LAYERS } from '../../bench/idle-floor/layers.js'
import { runIdleFloor } from '../../bench/scenarios/idle-floor.js'
import { h2NativeAvailability } from '../../transports/h2-native/index.js'

const availability = h2NativeAvailability()
const SKIP: string | false = availability.available ? false : `engine addon not built (${availability.reason})`
const REPO = fileURLToPath(new URL('../../..', import.meta.url))
const STACK = fileURLToPath(new URL('../../bench/idle-floor/stack.js', import.meta.url))

test('idle floor: every layer is started and read, in order, and the report sets the top one against the target', { skip: SKIP, timeout: 60_000 }, async () => {
  const lines: string[] = []
  const result = await runIdleFloor({ repoDir: REPO, rounds: 2, idleMs: 1_200, log: (line) => { lines.push(line) } })
  assert.deepEqual(result.layers.map((l) => l.layer), [...FLOOR_LAYERS])
  for (const layer of result.layers) {
    assert.equal(layer.rssBytes.length, 2, `${layer.layer}: one reading per start`)
    // A Node process is tens of MB resident; a reading of 0 or of a few kB would be a broken read.
    for (const rss of layer.rssBytes) assert.ok(rss > 20e6 && rss < 1e9, `${layer.layer}: ${rss} bytes`)
    assert.ok(layer.medianBytes >= Math.min(...layer.rssBytes) && layer.medianBytes <= Math.max(...layer.rssBytes))
    // The node binary's own pages are part of the file-backed share, which is part of the RSS.
    assert.ok(layer.binaryMedianBytes > 1e6, `${layer.layer}: node binary ${layer.binaryMedianBytes} bytes resident`)
    assert.ok(layer.binaryMedianBytes <= layer.fileMedianBytes && layer.fileMedianBytes < layer.medianBytes,
      `${layer.layer}: binary ${layer.binaryMedianBytes} ≤ file-backed ${layer.fileMedianBytes} < RSS ${layer.medianBytes}`)
  }
  assert.equal(lines.length, 2 * FLOOR_LAYERS.length)
  assert.match(result.markdown, /\| admin +\| \+ node:http server/)
  assert.match(result.markdown, /\| of it file-backed, MB \| of that the node binary, MB \| anonymous \(the rest\), MB \|/)
  assert.match(result.markdown, /The idle-RSS target is ≤ 50\.0 MB per proxy\. With the whole stack loaded and nothing of meshgate's own, (.+ MB is left for|the floor is already .+ MB above it)/)
})

test('idle floor: the child refuses a layer it does not know', async () => {
  const child = spawn(process.execPath, [STACK, 'everything'], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const code = await new Promise<number | null>((resolve) => { child.on('exit', resolve) })
  assert.equal(code, 2)
  assert.match(stderr, /usage: stack\.js runtime\|engine\|deps\|admin/)
})
