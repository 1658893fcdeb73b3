/**
 * Helpers of the HTTP/1 parser tests: feed bytes split at given offsets, as socket reads come,
 * and compare results with the body's cuts taken out.
 */
import type { Http1ParserEvent } from '../../native/engine.js'

/** Events with adjacent body chunks joined (how the body was cut is not part of the result). */
export function normalise (events: Http1ParserEvent[]): unknown[] {
  const out: unknown[] = []
  for (const ev of events) {
    const last = out[out.length - 1] as { kind: string, data: string } | undefined
    if (ev.kind === 'body') {
      if (last?.kind === 'body') last.data += ev.data.toString('latin1')
      else out.push({ kind: 'body', data: ev.data.toString('latin1') })
    } else if (ev.kind === 'upgrade') {
      out.push({ kind: 'upgrade', rest: ev.rest.toString('latin1') })
    } else {
      out.push({ ...ev })
    }
  }
  return out
}

/** Feeds `input` in pieces cut at `cuts` (byte offsets), as reads off a socket would come. */
export function feedSplit (execute: (b: Buffer) => Http1ParserEvent[], input: Buffer, cuts: number[]): Http1ParserEvent[] {
  const events: Http1ParserEvent[] = []
  let from = 0
  let rest: Buffer | undefined
  for (const cut of [...cuts, input.length]) {
    if (cut <= from) continue
    // After an upgrade or an error the parser takes no more: an upgrade's `rest` is what the
    // caller must keep, so it is rebuilt from the bytes not yet fed.
    const evs = execute(input.subarray(from, cut))
    for (const ev of evs) {
      if (ev.kind === 'upgrade') rest = Buffer.concat([ev.rest, input.subarray(cut)])
      else events.push(ev)
    }
    from = cut
    if (rest !== undefined) {
      events.push({ kind: 'upgrade', rest })
      break
    }
    if (events[events.length - 1]?.kind === 'error') break
  }
  return events
}
