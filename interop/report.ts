/**
 * The result matrix in four forms: the terminal (colours when stdout is a TTY), JSON, Markdown
 * and a self-contained HTML page with coloured cells. Rows are peer × direction
 * (`ngtcp2 → meshgate`: the peer's client against our server), columns are test cases.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { CASES, CASE_MEANING, type CaseName, type CaseResult, type Direction, type Status } from './types.js'

/** Everything a report needs besides the cells. */
export interface RunSummary {
  /** ISO date of the start. */
  started: string
  durationMs: number
  command: string
  /** Versions of the tools involved (name → version text). */
  versions: Record<string, string>
  /** Peers that could not run, with the reason. */
  unavailable: Record<string, string>
  results: CaseResult[]
}

interface Row {
  label: string
  peer: string
  direction: Direction
  cells: Map<CaseName, CaseResult>
}

/** `ngtcp2 → meshgate` (meshgate serves) or `meshgate → ngtcp2` (meshgate is the client). */
export function rowLabel (peer: string, direction: Direction): string {
  return direction === 'server' ? `${peer} → meshgate` : `meshgate → ${peer}`
}

function rows (results: CaseResult[]): Row[] {
  const byKey = new Map<string, Row>()
  for (const r of results) {
    const key = `${r.peer}\u0000${r.direction}`
    let row = byKey.get(key)
    if (row === undefined) {
      row = { label: rowLabel(r.peer, r.direction), peer: r.peer, direction: r.direction, cells: new Map() }
      byKey.set(key, row)
    }
    row.cells.set(r.testCase, r)
  }
  return [...byKey.values()]
}

function casesIn (results: CaseResult[]): CaseName[] {
  return CASES.filter(c => results.some(r => r.testCase === c))
}

const SYMBOL: Record<Status, string> = { pass: 'pass', fail: 'FAIL', unsupported: '-' }
const ANSI: Record<Status, string> = { pass: '\u001b[32m', fail: '\u001b[31;1m', unsupported: '\u001b[90m' }

/** One line per finished case, as the runner prints them while it goes. */
export function resultLine (r: CaseResult, colour: boolean): string {
  const status = r.status.padEnd(11)
  const painted = colour ? `${ANSI[r.status]}${status}\u001b[0m` : status
  const time = r.durationMs > 0 ? `${(r.durationMs / 1000).toFixed(1)}s`.padStart(6) : '      '
  return `${rowLabel(r.peer, r.direction).padEnd(22)} ${r.testCase.padEnd(20)} ${painted} ${time}  ${r.reason}`
}

/** The matrix for the terminal, then the counts. */
export function terminalMatrix (summary: RunSummary, colour: boolean): string {
  const cases = casesIn(summary.results)
  const table = rows(summary.results)
  const width = Math.max(10, ...table.map(r => r.label.length))
  const colWidth = (c: CaseName): number => Math.max(c.length, 4)
  const lines = [`${''.padEnd(width)}  ${cases.map(c => c.padEnd(colWidth(c))).join('  ')}`]
  for (const row of table) {
    const cells = cases.map(c => {
      const cell = row.cells.get(c)
      const text = (cell === undefined ? '' : SYMBOL[cell.status]).padEnd(colWidth(c))
      return colour && cell !== undefined ? `${ANSI[cell.status]}${text}\u001b[0m` : text
    })
    lines.push(`${row.label.padEnd(width)}  ${cells.join('  ')}`)
  }
  const count = (s: Status): number => summary.results.filter(r => r.status === s).length
  lines.push('', `${count('pass')} passed, ${count('fail')} failed, ${count('unsupported')} unsupported (pass / FAIL / - unsupported)`)
  return lines.join('\n') + '\n'
}

function escapeHtml (text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

function escapeMd (text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ')
}

const MD_SYMBOL: Record<Status, string> = { pass: '✅ pass', fail: '❌ fail', unsupported: '➖' }

/** The Markdown report: matrix, then every failure and unsupported reason, then versions. */
export function markdownReport (summary: RunSummary): string {
  const cases = casesIn(summary.results)
  const table = rows(summary.results)
  const out: string[] = [
    '| | ' + cases.join(' | ') + ' |',
    '|---|' + cases.map(() => '---').join('|') + '|',
  ]
  for (const row of table) {
    out.push(`| ${row.label} | ` + cases.map(c => {
      const cell = row.cells.get(c)
      return cell === undefined ? '' : MD_SYMBOL[cell.status]
    }).join(' | ') + ' |')
  }
  out.push('', '✅ pass · ❌ fail · ➖ unsupported (reason below). `peer → meshgate`: the peer\'s client against our server; `meshgate → peer`: our client against the peer\'s server.', '')
  const failures = summary.results.filter(r => r.status === 'fail')
  if (failures.length > 0) {
    out.push('### Failures', '')
    for (const r of failures) out.push(`- **${rowLabel(r.peer, r.direction)} / ${r.testCase}**: ${escapeMd(r.reason)} (logs: \`${r.logs}\`)`)
    out.push('')
  }
  out.push('### Passed: what each proved', '')
  for (const r of summary.results.filter(r => r.status === 'pass')) out.push(`- ${rowLabel(r.peer, r.direction)} / ${r.testCase}: ${escapeMd(r.reason)}`)
  out.push('', '### Unsupported: why', '')
  const reasons = new Map<string, string[]>()
  for (const r of summary.results.filter(r => r.status === 'unsupported')) {
    const list = reasons.get(r.reason) ?? []
    list.push(`${rowLabel(r.peer, r.direction)} / ${r.testCase}`)
    reasons.set(r.reason, list)
  }
  for (const [reason, cells] of reasons) out.push(`- ${escapeMd(reason)}: ${cells.join(', ')}`)
  out.push('', '### Cases', '')
  for (const c of cases) out.push(`- \`${c}\`: ${CASE_MEANING[c]}`)
  out.push('', '### Versions', '')
  for (const [name, version] of Object.entries(summary.versions)) out.push(`- ${name}: ${escapeMd(version)}`)
  return out.join('\n') + '\n'
}

const HTML_COLOUR: Record<Status, string> = { pass: '#1a7f37', fail: '#cf222e', unsupported: '#8c959f' }

/** A standalone HTML page: coloured matrix (reason on hover), reasons and versions below. */
export function htmlReport (summary: RunSummary): string {
  const cases = casesIn(summary.results)
  const table = rows(summary.results)
  const head = cases.map(c => `<th title="${escapeHtml(CASE_MEANING[c])}">${escapeHtml(c)}</th>`).join('')
  const body = table.map(row => `<tr><th class="row">${escapeHtml(row.label)}</th>` + cases.map(c => {
    const cell = row.cells.get(c)
    if (cell === undefined) return '<td></td>'
    const label = cell.status === 'unsupported' ? 'unsupported' : cell.status
    return `<td class="${cell.status}" title="${escapeHtml(cell.reason)}">${label}</td>`
  }).join('') + '</tr>').join('\n')
  const details = summary.results.filter(r => r.status !== 'unsupported' || !r.reason.startsWith('not installed'))
    .map(r => `<li><span class="${r.status}">${r.status}</span> ${escapeHtml(rowLabel(r.peer, r.direction))} / ${escapeHtml(r.testCase)}: ${escapeHtml(r.reason)}${r.logs === '' ? '' : ` <code>${escapeHtml(r.logs)}</code>`}</li>`)
    .join('\n')
  const versions = Object.entries(summary.versions).map(([k, v]) => `<li>${escapeHtml(k)}: ${escapeHtml(v)}</li>`).join('\n')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>meshgate interop matrix</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 2em; color: #1f2328 }
table { border-collapse: collapse } th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: center }
th.row { text-align: left; white-space: nowrap }
td.pass { background: ${HTML_COLOUR.pass}; color: #fff } td.fail { background: ${HTML_COLOUR.fail}; color: #fff; font-weight: bold }
td.unsupported { background: #eaeef2; color: ${HTML_COLOUR.unsupported} }
span.pass { color: ${HTML_COLOUR.pass} } span.fail { color: ${HTML_COLOUR.fail}; font-weight: bold } span.unsupported { color: ${HTML_COLOUR.unsupported} }
li { margin: 2px 0 }
</style></head><body>
<h1>meshgate interop matrix</h1>
<p>${escapeHtml(summary.started)} · ${(summary.durationMs / 1000).toFixed(0)} s · <code>${escapeHtml(summary.command)}</code></p>
<p>Rows: <em>peer → meshgate</em> is the peer's client against our server, <em>meshgate → peer</em> our client against the peer's server. Hover a cell for its reason.</p>
<table><tr><th></th>${head}</tr>
${body}
</table>
<h2>Cells</h2><ul>
${details}
</ul>
<h2>Versions</h2><ul>
${versions}
</ul>
</body></html>
`
}

/** Writes results.json, results.md and results.html into `outDir`; returns their paths. */
export function writeReports (summary: RunSummary, outDir: string): string[] {
  const md = `# meshgate interop results\n\n${summary.started} · \`${summary.command}\`\n\n${markdownReport(summary)}`
  const files: Array<[string, string]> = [
    ['results.json', JSON.stringify(summary, null, 2) + '\n'],
    ['results.md', md],
    ['results.html', htmlReport(summary)],
  ]
  return files.map(([name, text]) => {
    const path = join(outDir, name)
    writeFileSync(path, text)
    return path
  })
}
