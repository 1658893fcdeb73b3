/**
 * The process logger: pino JSON to stdout, level changeable at run time; components take
 * `logger.child({ component })`.
 */
import { pino, type Logger } from 'pino'

export type { Logger }

export function createLogger (level: string, destination?: NodeJS.WritableStream): Logger {
  const options = { level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime }
  return destination === undefined ? pino(options) : pino(options, destination)
}
