/**
 * The scenarios `npm run bench` runs, in order. New ones (issue 4's metrics switch, issue 5's h3
 * pair, issue 11's bodies and open loop) are added as files here and listed below. Issue 3's slow endpoint compares two meshgate
 * configs rather than paths, so run.ts runs it apart (slow-endpoint.ts).
 */
import { h2cSmall } from './h2c-small.js'
import { http1Body16k, http1Body1k } from './http1-body.js'
import { http1Small } from './http1-small.js'
import { openLoop1000, openLoop2000, openLoop500 } from './open-loop.js'
import { tcpBulk, tcpBulkP4 } from './tcp-bulk.js'
import type { Scenario } from './types.js'

export const scenarios: readonly Scenario[] = [
  http1Small, http1Body1k, http1Body16k, h2cSmall, tcpBulk, tcpBulkP4,
  // Issue 11: fixed-rate open loop, HTTP/1.1 with a 1 KiB body.
  openLoop500, openLoop1000, openLoop2000,
]
