/**
 * Reading the Prometheus text format back: used by `meshgate top` and, through
 * `Function.prototype.toString`, embedded in the dashboard page — so each function here stays
 * self-contained (no imports, no module-level helpers).
 */

export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

/** Parses exposition text (format 0.0.4) into samples; comments and malformed lines are skipped. */
export function parseMetricsText (text: string): Sample[] {
  const samples: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.charCodeAt(0) === 35 /* # */) continue
    let i = 0
    while (i < line.length && line[i] !== '{' && line[i] !== ' ') i++
    const name = line.slice(0, i)
    const labels: Record<string, string> = {}
    if (line[i] === '{') {
      i++
      while (i < line.length && line[i] !== '}') {
        const eq = line.indexOf('=', i)
        if (eq < 0 || line[eq + 1] !== '"') break
        const key = line.slice(i, eq).trim()
        let j = eq + 2
        let value = ''
        while (j < line.length && line[j] !== '"') {
          if (line[j] === '\\' && j + 1 < line.length) {
            const c = line[j + 1]
            value += c === 'n' ? '\n' : c
            j += 2
          } else {
            value += line[j]
            j++
          }
        }
        labels[key] = value
        i = j + 1
        if (line[i] === ',') i++
      }
      i++
    }
    const rest = line.slice(i).trim().split(/\s+/)[0]
    if (name === '' || rest === undefined || rest === '') continue
    const value = rest === '+Inf' ? Infinity : rest === '-Inf' ? -Infinity : Number(rest)
    samples.push({ name, labels, value })
  }
  return samples
}

/**
 * The q-quantile (0–1) of a histogram from cumulative bucket counts, interpolating linearly inside
 * the bucket as Prometheus' `histogram_quantile` does. `buckets` is `[upperBound, cumulativeCount]`
 * pairs including `Infinity`; NaN when there are no observations.
 */
export function histogramQuantile (q: number, buckets: Array<[number, number]>): number {
  const sorted = buckets.slice().sort((a, b) => a[0] - b[0])
  if (sorted.length === 0) return NaN
  const total = sorted[sorted.length - 1][1]
  if (!(total > 0)) return NaN
  const rank = q * total
  let prevBound = 0
  let prevCount = 0
  for (const [bound, count] of sorted) {
    if (count >= rank) {
      // Past the last finite bound Prometheus answers that bound; so do we.
      if (bound === Infinity) return prevBound
      if (count === prevCount) return bound
      return prevBound + (bound - prevBound) * ((rank - prevCount) / (count - prevCount))
    }
    prevBound = bound
    prevCount = count
  }
  return prevBound
}
