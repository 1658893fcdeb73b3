// `meshgate run` applies a changed config live: a split changed by editing the file, a bad file
// refused with every problem logged while the old config keeps serving, a request in flight
// across a reload unaffected, SIGHUP rereading the file, and a listener change named as needing a
// restart. Runs examples/canary.yaml on free ports.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Agent, request } from 'undici'
import { CLI, freePort } from '../helpers/meshgate-process.js'
import { exampleCopy, until } from '../helpers/example-run.js'

let dir: string
before(async () => { dir = await mkdtemp(join(tmpdir(), 'meshgate-reload-')) })
after(async () => { await rm(dir, { recursive: true, force: true }) })

test('a changed split applies live; a bad file is refused with every problem; SIGHUP rereads', { timeout: 60_000 }, async () => {
  const { file, ports } = await exampleCopy('canary.yaml', dir, ['4140', '4143', '4191', '8081', '8082'])
  const text = await readFile(file, 'utf8')

  const child = spawn(process.execPath, [CLI, 'run', file], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (c: string) => { stdout += c })
  child.stderr.setEncoding('utf8').on('data', (c: string) => { stderr += c })
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const agent = new Agent({ connections: 4 })
  const killer = setTimeout(() => child.kill('SIGKILL'), 55_000)
  const versions = async (count: number): Promise<Record<string, number>> => {
    const seen: Record<string, number> = {}
    for (let i = 0; i < count; i++) {
      const res = await request(`http://127.0.0.1:${ports['4140']}/`, { dispatcher: agent, headers: { host: 'demo.local' }, headersTimeout: 10_000 })
      const v = (JSON.parse(await res.body.text()) as { version: string }).version
      seen[v] = (seen[v] ?? 0) + 1
    }
    return seen
  }
  const reloads = (): number => stdout.split('\n').filter((l) => l.includes('"msg":"config reloaded"')).length
  try {
    await until(() => stderr.includes('stop with Ctrl-C') || child.exitCode !== null, 20_000, 'start')
    const first = await versions(100)
    assert.ok((first.v1 ?? 0) >= 75, JSON.stringify(first))

    // A request in flight across the reload finishes as it started.
    const inflight = request(`http://127.0.0.1:${ports['4140']}/delay/1500`, { dispatcher: agent, headers: { host: 'demo.local' }, headersTimeout: 10_000 })
    await new Promise((resolve) => setTimeout(resolve, 200))
    await writeFile(file, text.replace('weight: 90 }', 'weight: 0 }'))
    await until(() => reloads() >= 1, 10_000, 'the reload')
    assert.deepEqual(await versions(40), { v2: 40 })
    assert.equal((await inflight).statusCode, 200)

    // A bad file: both problems logged, the running config stays.
    const bad = text.replace('weight: 90 }', 'weight: 0 }').replace('weight: 10 }', 'weight: 0 }').replace('prefix: / }', 'regex: "(" }')
    await writeFile(file, bad)
    await until(() => stdout.includes('config not reloaded'), 10_000, 'the refusal')
    const refusal = stdout.split('\n').find((l) => l.includes('config not reloaded')) ?? ''
    assert.match(refusal, /services\.demo\.routes\[0\]\.match\[0\]\.path\.regex/)
    assert.match(refusal, /services\.demo\.routes\[0\]\.backends.*weights sum to more than 0/)
    assert.match(refusal, /"code":"E_CONFIG"/)
    assert.deepEqual(await versions(20), { v2: 20 })

    // SIGHUP rereads; a listener change is named as needing a restart and not applied.
    const moved = text.replace(`port: ${ports['4140']}, protocol`, `port: ${await freePort()}, protocol`)
    await writeFile(file, moved)
    await until(() => reloads() >= 2, 10_000, 'the reload of the good file')
    // Counted by reason: a late second watch event for the write above must not pass for the SIGHUP.
    const hupReloads = (): number => stdout.split('\n').filter((l) => l.includes('"msg":"config reloaded"') && l.includes('"reason":"SIGHUP"')).length
    assert.equal(hupReloads(), 0)
    child.kill('SIGHUP')
    await until(() => hupReloads() === 1, 10_000, 'the SIGHUP reload')
    assert.match(stdout, /config changes that need a restart were not applied: outbound/)
    const back = await versions(100)
    assert.ok((back.v1 ?? 0) >= 75, `the file's 90/10 split again, on the old listener: ${JSON.stringify(back)}`)
  } finally {
    clearTimeout(killer)
    await agent.close()
    child.kill('SIGTERM')
    await exited
  }
})
