// examples/plugins.yaml as written, on free ports: `meshgate run` it and `curl -si -H 'Host:
// demo.local'` the outbound listener: the add-header plugin's `x-plugin: add-header` is there.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { builtPlugins } from '../helpers/plugins.js'

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url))
const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..')

let dir: string
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'meshgate-plugins-example-'))
  await builtPlugins()
}, { timeout: 310_000 })
after(async () => { await rm(dir, { recursive: true, force: true }) })

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

async function until (check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

test('examples/plugins.yaml: curl through the outbound listener shows x-plugin: add-header', async () => {
  const ports: Record<string, number> = {}
  for (const fixed of ['4140', '4141', '4143', '4191', '8080', '9000']) ports[fixed] = await freePort()
  let text = await readFile(join(ROOT, 'examples', 'plugins.yaml'), 'utf8')
  for (const fixed of Object.keys(ports)) text = text.replaceAll(fixed, `<${fixed}>`)
  for (const [fixed, port] of Object.entries(ports)) text = text.replaceAll(`<${fixed}>`, String(port))
  // The copy lives elsewhere: its relative paths point back into the repository.
  text = text.replaceAll('../.meshgate/pki', join(dir, 'pki')).replaceAll('../dist/plugins/', `${join(ROOT, 'dist', 'plugins')}/`).replace('level: info', 'level: warn')
  const file = join(dir, 'plugins.yaml')
  await writeFile(file, text)

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
