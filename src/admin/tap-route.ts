/**
 * `GET /tap`: a newline-delimited JSON stream of the requests and tunnels matching the query
 * (`authority`, `pathPrefix`, `method`, `identity`, `limit`). The first line describes the tap;
 * then one line per event (`type: request|tunnel`) and `{"type":"dropped","count":n}` lines when
 * the rate limit or a slow reader made the hub drop events.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { send } from './respond.js'
import type { TapFilter, TapHub, TapRecord } from './tap.js'

/** Bytes a tap response may hold unsent before its events are dropped: 1 MiB. */
const MAX_BUFFERED_BYTES = 1 << 20

const FILTER_KEYS = ['authority', 'pathPrefix', 'method', 'identity'] as const

export function serveTap (hub: TapHub, req: IncomingMessage, url: URL, res: ServerResponse, onEnd: (close: () => void) => () => void): void {
  const filter: TapFilter = {}
  for (const k of FILTER_KEYS) {
    const v = url.searchParams.get(k)
    if (v !== null && v !== '') filter[k] = v
  }
  const limitParam = url.searchParams.get('limit')
  let limit: number | undefined
  if (limitParam !== null && limitParam !== '') {
    limit = Number(limitParam)
    if (!Number.isInteger(limit) || limit < 1) {
      send(res, 400, `invalid limit ${JSON.stringify(limitParam)}: expected an integer ≥ 1\n`)
      return
    }
  }
  const write = (line: object): void => { res.write(`${JSON.stringify(line)}\n`) }
  const sub = hub.subscribe(filter, {
    deliver: (record: TapRecord) => {
      // A reader that doesn't keep up loses events rather than growing our buffers past a bound.
      if (res.writableLength > MAX_BUFFERED_BYTES || res.destroyed) return false
      write(record)
      return true
    },
    dropped: (count) => { if (!res.destroyed) write({ type: 'dropped', count }) },
    end: () => { res.end() },
  }, { limit })
  if (sub === undefined) {
    send(res, 503, `too many tap subscribers (at most ${hub.maxSubscribers})\n`)
    return
  }
  res.writeHead(200, { 'content-type': 'application/x-ndjson; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' })
  write({ type: 'tap', filter, limit: limit ?? null, ratePerSecond: hub.ratePerSecond })
  const forget = onEnd(() => { sub.close(); res.end() })
  const stop = (): void => { sub.close(); forget() }
  req.on('close', stop)
  res.on('close', stop)
}
