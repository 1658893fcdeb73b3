// Runs a real client program (curl, nghttp, …) with a time bound and collects its output.
import { spawn } from 'node:child_process'

export interface RunResult { code: number | null, stdout: string, stderr: string }

export async function run (command: string, args: string[], options: { input?: Buffer | string, timeoutMs?: number, env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return await new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], ...(options.env !== undefined ? { env: options.env } : {}) })
    const out: Buffer[] = []
    const err: Buffer[] = []
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 30_000)
    child.stdout.on('data', (c: Buffer) => out.push(c))
    child.stderr.on('data', (c: Buffer) => err.push(c))
    child.once('error', (e) => { clearTimeout(timer); reject(e) })
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() })
    })
    child.stdin.end(options.input)
  })
}
