/** `GET/PUT /log-level`: reads and changes the pino logger's level at run time. */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from '../log.js'
import { readBody, send, sendJson } from './respond.js'

/** The levels this logger accepts, lowest first, then `silent`. */
export function validLevels (logger: Logger): string[] {
  const values = logger.levels.values
  return [...Object.keys(values).sort((a, b) => values[a] - values[b]), 'silent']
}

export function getLogLevel (logger: Logger, res: ServerResponse): void {
  sendJson(res, 200, { level: logger.level })
}

/** Body: `{"level":"debug"}` or the bare level name; `?level=debug` works too. */
export async function putLogLevel (logger: Logger, req: IncomingMessage, url: URL, res: ServerResponse): Promise<void> {
  let level = url.searchParams.get('level') ?? ''
  if (level === '') {
    const body = (await readBody(req)).trim()
    level = body
    if (body.startsWith('{')) {
      try {
        const parsed: unknown = JSON.parse(body)
        const value = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>).level : undefined
        level = typeof value === 'string' ? value : ''
      } catch {
        level = ''
      }
    }
  }
  const valid = validLevels(logger)
  if (!valid.includes(level)) {
    send(res, 400, `invalid log level ${JSON.stringify(level)}: expected one of ${valid.join(', ')}\n`)
    return
  }
  const from = logger.level
  logger.level = level
  logger.info({ from, to: level }, 'log level changed')
  sendJson(res, 200, { level })
}
