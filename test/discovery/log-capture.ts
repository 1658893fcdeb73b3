// A pino logger whose JSON lines the test can read back (to assert an error code was logged).
import { Writable } from 'node:stream'
import { createLogger, type Logger } from '../../src/log.js'

export interface CapturedLog {
  logger: Logger
  lines: Array<Record<string, unknown>>
  /** Lines with this `code` field. */
  withCode: (code: string) => Array<Record<string, unknown>>
}

export function captureLog (level = 'info'): CapturedLog {
  const lines: Array<Record<string, unknown>> = []
  const sink = new Writable({
    write (chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>)
      callback()
    },
  })
  const logger = createLogger(level, sink)
  return { logger, lines, withCode: (code) => lines.filter((l) => l.code === code) }
}

/** Resolves when `check()` is true, polling every 10 ms; rejects after `timeoutMs`. */
export async function until (check: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}
