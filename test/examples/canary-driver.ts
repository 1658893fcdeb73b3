/**
 * Runs examples/canary.yaml as written (`meshgate run`, its fixed ports) and drives it: 1,000 GETs
 * of `/` and 1,000 of `/flaky?failRate=0.3` through 127.0.0.1:4140 with Host demo.local, then
 * prints one JSON line of what it saw. canary.test.ts starts it inside a network namespace of its
 * own, so the fixed ports never meet another process's.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Agent, request } from 'undici'

const CLI = fileURLToPath(new URL('../../src/cli.js', import.meta.url))
const EXAMPLE = fileURLToPath(new URL('../../../examples/canary.yaml', import.meta.url))

async function metrics (): Promise<string> {
  const res = await request('http://127.0.0.1:4191/metrics', { headersTimeout: 5000, bodyTimeout: 5000 })
  return await res.body.text()
}

function sum (text: string, name: string): number {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `)).reduce((s, l) => s + Number(l.slice(l.lastIndexOf(' ') + 1)), 0)
}

async function drive (agent: Agent, path: string, count: number): Promise<Map<string, number>> {
  const seen = new Map<string, number>()
  let next = 0
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (next++ < count) {
      const res = await request(`http://127.0.0.1:4140${path}`, { dispatcher: agent, headers: { host: 'demo.local' }, headersTimeout: 15_000, bodyTimeout: 15_000 })
      const body = await res.body.text()
      const key = res.statusCode === 200 ? (JSON.parse(body) as { version: string }).version : `status ${res.statusCode}`
      seen.set(key, (seen.get(key) ?? 0) + 1)
    }
  }))
  return seen
}

async function main (): Promise<void> {
  const child = spawn(process.execPath, [CLI, 'run', EXAMPLE], { stdio: ['ignore', 'ignore', 'inherit'] })
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  const agent = new Agent({ connections: 4 })
  try {
    const deadline = Date.now() + 20_000
    for (;;) {
      const ready = await request('http://127.0.0.1:4191/ready', { headersTimeout: 1000 }).then(async (r) => { await r.body.dump(); return r.statusCode === 200 }, () => false)
      if (ready) break
      if (Date.now() > deadline) throw new Error('the example did not become ready within 20 s')
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    const split = await drive(agent, '/', 1000)
    const beforeFlaky = await metrics()
    const started = performance.now()
    const flaky = await drive(agent, '/flaky?failRate=0.3', 1000)
    const flakySeconds = (performance.now() - started) / 1000
    const after = await metrics()
    process.stdout.write(JSON.stringify({
      split: Object.fromEntries(split),
      flaky: Object.fromEntries(flaky),
      flakySeconds,
      retries: sum(after, 'meshgate_retries_total') - sum(beforeFlaky, 'meshgate_retries_total'),
      exhausted: sum(after, 'meshgate_retry_budget_exhausted_total'),
    }) + '\n')
  } finally {
    await agent.close()
    child.kill('SIGTERM')
    await exited
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`canary driver: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
  process.exitCode = 1
})
