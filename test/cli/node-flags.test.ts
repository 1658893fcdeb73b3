// Every launcher of the proxy gives node the same V8 heap flags (src/node-flags.ts): the `bin`
// shebang, `npm start`, and the sidecar `meshgate inject` adds (the Dockerfile's ENTRYPOINT is
// checked in test/deploy/dockerfile.test.ts). A launcher without them runs with V8's default
// young generation, which grows to 16 MB semi-spaces under load and keeps them.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { NODE_FLAGS } from '../../src/node-flags.js'
import { proxyContainer } from '../../src/inject/inject.js'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url))
const run = promisify(execFile)

describe('node flags of the launchers', () => {
  it('the flags are V8 options node accepts', async () => {
    assert.ok(NODE_FLAGS.length > 0)
    const { stdout } = await run(process.execPath, [...NODE_FLAGS, CLI, '--version'], { timeout: 20_000 })
    assert.match(stdout, /^meshgate \d/)
  })

  it('the built `bin` starts node with them (its shebang)', () => {
    const first = readFileSync(CLI, 'utf8').split('\n', 1)[0]
    assert.equal(first, `#!/usr/bin/env -S node ${NODE_FLAGS.join(' ')}`)
  })

  it('npm start runs the CLI with them', () => {
    const pkg = JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { scripts: Record<string, string>, bin: Record<string, string> }
    assert.equal(pkg.scripts.start, `node ${NODE_FLAGS.join(' ')} ${pkg.bin.meshgate as string}`)
  })

  it('the injected sidecar execs node with them', () => {
    const container = proxyContainer({ image: 'meshgate:test', proxyUid: 2102 })
    const script = (container.args as string[])[0] as string
    assert.match(script, new RegExp(`exec node ${NODE_FLAGS.join(' ')} dist/src/cli\\.js run `))
  })
})
