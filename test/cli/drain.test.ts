// `meshgate run` of the embedded default (on free ports): the try: block, a drain that waits for an
// open tunnel, and a second signal that exits at once.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { connect, createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url))
const ROOT = resolve(fileURLToPath(import.meta.url), '../../../..')

let dir: string
before(async () => { dir = await mkdtemp(join(tmpdir(), 'meshgate-drain-')) })
after(async () => { await rm(dir, { recursive: true, force: true }) })

async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise((resolve) => server.close(resolve))
  return port
}

async function until (test: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}

test('run the default config: try: block, drain waits for a tunnel, a second SIGTERM exits 1 at once', async () => {
  const ports: Record<string, number> = {}
  for (const fixed of ['4140', '4141', '4143', '4191', '8080', '9000']) ports[fixed] = await freePort()
  let text = await readFile(join(ROOT, 'examples', 'default.yaml'), 'utf8')
  // Two passes, so a new port that happens to contain an old one is not rewritten again.
  for (const fixed of Object.keys(ports)) text = text.replaceAll(fixed, `<${fixed}>`)
  for (const [fixed, port] of Object.entries(ports)) text = text.replaceAll(`<${fixed}>`, String(port))
  text = text.replaceAll('../.meshgate/pki', join(dir, 'pki')).replace('level: info', 'level: warn')
  const file = join(dir, 'default.yaml')
  await writeFile(file, text)

  const child = spawn(process.execPath, [CLI, 'run', file], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000)
  try {
    await until(() => stderr.includes('stop with Ctrl-C') || child.exitCode !== null, 15_000, 'start')
    assert.ok(stderr.includes(`try:\n  curl -H 'Host: demo.local' http://127.0.0.1:${ports['4140']}/\n`), stderr)
    assert.ok(stderr.includes(`nghttp -v -H ':authority: demo.local' http://127.0.0.1:${ports['4140']}/`))
    assert.ok(stderr.includes(`echo hi | nc 127.0.0.1 ${ports['4141']}`))
    assert.ok(stderr.includes(`curl http://127.0.0.1:${ports['4191']}/metrics`))

    // A TCP tunnel through the tcp listener to the demo echo, left open across the signal.
    const socket = connect(ports['4141'], '127.0.0.1')
    socket.on('error', () => {})
    let echoed = ''
    socket.setEncoding('utf8').on('data', (c: string) => { echoed += c })
    socket.write('hi\n')
    await until(() => echoed === 'hi\n', 5_000, 'the echo')

    child.kill('SIGTERM')
    await new Promise((resolve) => setTimeout(resolve, 300))
    assert.equal(child.exitCode, null, 'still draining while the tunnel is open')
    child.kill('SIGTERM')
    assert.equal(await exited, 1)
    assert.match(stderr, /SIGTERM again, exiting now/)
    socket.destroy()
  } finally {
    clearTimeout(killer)
    child.kill('SIGKILL')
  }
})
