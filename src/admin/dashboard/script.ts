/**
 * The dashboard's browser script, assembled from the compiled source of client.ts, the live
 * model (metrics/rates.ts) and the text-format reader, so the page runs the same code the tests run in Node.
 */
import { histogramQuantile, parseMetricsText } from '../../metrics/text-format.js'
import { diff, formatValue, summarize } from '../../metrics/rates.js'
import { dashboardMain, drawChart, fillTable, tapCells } from './client.js'

const parts: Array<(...args: never[]) => unknown> = [
  parseMetricsText, histogramQuantile, summarize, diff, formatValue, drawChart, fillTable, tapCells, dashboardMain,
]

/** Served as /dashboard.js. */
export const DASHBOARD_SCRIPT = `// meshgate dashboard (generated from src/admin/dashboard/client.ts)
(() => {
'use strict'
${parts.map((f) => f.toString()).join('\n\n')}

dashboardMain()
})()
`
