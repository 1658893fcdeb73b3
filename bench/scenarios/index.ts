/**
 * The scenarios `npm run bench` runs, in order. New ones (issue 4's metrics switch, issue 5's h3
 * pair) are added as files here and listed below. Issue 3's slow endpoint compares two meshgate
 * configs rather than paths, so run.ts runs it apart (slow-endpoint.ts).
 */
import { h2cSmall } from './h2c-small.js'
import { http1Small } from './http1-small.js'
import { tcpBulk, tcpBulkP4 } from './tcp-bulk.js'
import type { Scenario } from './types.js'

export const scenarios: readonly Scenario[] = [http1Small, h2cSmall, tcpBulk, tcpBulkP4]
