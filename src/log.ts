/**
 * The process logger: pino JSON to stdout, level changeable at run time; components take
 * `logger.child({ component })`.
 */
import { createRequire } from 'node:module'
import type * as Pino from 'pino'
import type { Logger } from 'pino'

export type { Logger }

// require, not import: importing a CommonJS package from ESM makes Node load and run its
// cjs-module-lexer to find the exports (~0.2 MB of RSS with yaml's, see config/load.ts).
const { pino } = createRequire(import.meta.url)('pino') as typeof Pino

const pad = (n: number, width = 2): string => String(n).padStart(width, '0')

/**
 * pino's `isoTime` (`,"time":"2024-05-01T12:00:00.000Z"`) built from the UTC fields:
 * Date#toISOString makes V8 load ICU's time zone data, ~0.6 MB of RSS for the first log line.
 */
export function isoTime (now: number = Date.now()): string {
  const d = new Date(now)
  return `,"time":"${pad(d.getUTCFullYear(), 4)}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}Z"`
}

export function createLogger (level: string, destination?: NodeJS.WritableStream): Logger {
  const options = { level, base: { pid: process.pid }, timestamp: isoTime }
  return destination === undefined ? pino(options) : pino(options, destination)
}
