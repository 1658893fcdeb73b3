// `meshgate run` of the embedded default (on free ports): the try: block, a drain that waits for an
// open tunnel, and a second signal that exits at once.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CLI } from '../helpers/meshgate-process.js'
import { exampleCopy, until } from '../helpers/example-run.js'

let dir: string
before(async () => { dir = await mkdtemp(join(tmpdir(), 'meshgate-drain-')) })
after(async () => { await rm(dir, { recursive: true, force: true }) })

test('run the default config: try: block, drain waits for a tunnel, a second SIGTERM exits 1 at once', async () => {
  const { file, ports } = await exampleCopy('default.yaml', dir, ['4140', '4141', '4143', '4191', '8080', '9000'], [['level: info', 'level: warn']])

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
