/**
 * Runs the open-loop generator (generator.ts) as a child process and reads its result: at once
 * (`runOpenLoop`, the path matrix's fixed-rate scenarios) or started ahead and released with
 * `go()` (`startOpenLoop`, cold start, where the load must begin the moment a proxy is ready).
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { killOnExit } from '../processes.js'
import { parseResult, type OpenLoopResult } from './result.js'

const GENERATOR = fileURLToPath(new URL('./generator.js', import.meta.url))

export interface OpenLoopOptions {
  port: number
  /** Sent as Host. */
  authority: string
  /** Requests per second. */
  rate: number
  durationSeconds: number
  /** POST body size, bytes (default 1024). */
  bodyBytes?: number
  /** Keep-alive connections at most (default 64). */
  connections?: number
  /** A request not answered in this time fails (default 5000 ms). */
  timeoutMs?: number
  /** Warm up on this server, already up, instead of one inside the generator (generator.ts warmUp). */
  warmPort?: number
  /** Warm-up passes, each with fresh connections, and seconds per pass (the generator's defaults: 1, 0.5). */
  warmPasses?: number
  warmSeconds?: number
}

export interface StartedOpenLoop {
  /** Starts sending (once). */
  go: () => void
  /** The generator's result, after the run and the last answer or timeout. */
  result: Promise<OpenLoopResult>
}

/** Spawns the generator and resolves once it is loaded and waiting for `go()`. */
export async function startOpenLoop (options: OpenLoopOptions): Promise<StartedOpenLoop> {
  const timeoutMs = options.timeoutMs ?? 5_000
  const child = spawn(process.execPath, [
    GENERATOR,
    '--port', String(options.port),
    '--authority', options.authority,
    '--rate', String(options.rate),
    '--duration', String(options.durationSeconds),
    '--body', String(options.bodyBytes ?? 1024),
    '--connections', String(options.connections ?? 64),
    '--timeout-ms', String(timeoutMs),
    '--wait-go',
    ...(options.warmPort === undefined ? [] : ['--warm-port', String(options.warmPort)]),
    ...(options.warmPasses === undefined ? [] : ['--warm-passes', String(options.warmPasses)]),
    ...(options.warmSeconds === undefined ? [] : ['--warm-seconds', String(options.warmSeconds)]),
  ], { stdio: ['pipe', 'pipe', 'pipe'] })
  killOnExit(child)
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8')
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (chunk: string) => { stderr += chunk })
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk
      if (stdout.startsWith('ready\n')) resolve()
    })
    child.once('exit', () => reject(new Error(`open-loop generator exited before it was ready: ${stderr.trim()}`)))
    child.once('error', reject)
  })
  // Far past the run's end plus the last request's timeout: a hung generator is killed.
  const limitMs = options.durationSeconds * 1000 + timeoutMs + 30_000
  const result = new Promise<OpenLoopResult>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined
    child.once('exit', (code, signal) => {
      clearTimeout(timer)
      const last = stdout.trim().split('\n').pop() ?? ''
      if (code !== 0 || !last.startsWith('{')) {
        reject(new Error(`open-loop generator failed (${signal ?? `exit code ${String(code)}`}): ${stderr.trim() || 'no result'}`))
        return
      }
      try { resolve(parseResult(last)) } catch (err) { reject(err) }
    })
    ready.then(() => { timer = setTimeout(() => child.kill('SIGKILL'), limitMs) }, () => {})
  })
  result.catch(() => {})
  await ready
  let started = false
  return {
    go: () => {
      if (started) return
      started = true
      child.stdin.end('go\n')
    },
    result,
  }
}

/** One open-loop run from start to result. */
export async function runOpenLoop (options: OpenLoopOptions): Promise<OpenLoopResult> {
  const run = await startOpenLoop(options)
  run.go()
  return await run.result
}
