// examples/plugins.yaml as written, on free ports: `meshgate run` it and `curl -si -H 'Host:
// demo.local'` the outbound listener: the add-header plugin's `x-plugin: add-header` is there.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { builtPlugins } from '../helpers/plugins.js'
import { CLI } from '../helpers/meshgate-process.js'
import { exampleCopy, ROOT, until } from '../helpers/example-run.js'

let dir: string
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshgate-plugins-example-'))
  await builtPlugins()
}, { timeout: 310_000 })
after(async () => { await rm(dir, { recursive: true, force: true }) })

test('examples/plugins.yaml: curl through the outbound listener shows x-plugin: add-header', async () => {
  // The copy lives elsewhere: its relative paths point back into the repository.
  const { file, ports } = await exampleCopy('plugins.yaml', dir, ['4140', '4141', '4143', '4191', '8080', '9000'], [['../dist/plugins/', `${join(ROOT, 'dist', 'plugins')}/`], ['level: info', 'level: warn']])

  const child = spawn(process.execPath, [CLI, 'run', file], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const killer = setTimeout(() => child.kill('SIGKILL'), 30_000)
  try {
    await until(() => stderr.includes('stop with Ctrl-C') || child.exitCode !== null, 20_000, 'start')
    assert.equal(child.exitCode, null, stderr)
    const { stdout } = await promisify(execFile)('curl', ['-si', '--max-time', '10', '-H', 'Host: demo.local', `http://127.0.0.1:${ports['4140']}/`])
    assert.match(stdout, /^HTTP\/1\.1 200 OK\r\n/)
    assert.match(stdout, /\r\nx-plugin: add-header\r\n/)
    assert.match(stdout, /"service":"meshgate-demo"/)
    child.kill('SIGTERM')
    assert.equal(await exited, 0)
  } finally {
    clearTimeout(killer)
    child.kill('SIGKILL')
  }
})
