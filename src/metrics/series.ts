/**
 * Metric families whose samples are plain numbers the hot path bumps directly; prom-client reads
 * them only at scrape time, so recording an event costs an addition, not a label hash.
 */
import type { MetricType } from 'prom-client'
import { Counter, Gauge, Histogram, type Registry } from './prom.js'

export type Labels = Record<string, string>

/** One counter or gauge series: the hot path does `cell.value += n`. */
export interface ValueCell {
  readonly labels: Labels
  value: number
}

/** One histogram series. `counts[i]` counts observations in bucket i only (not cumulative). */
export interface HistogramCell {
  readonly labels: Labels
  readonly bounds: readonly number[]
  /** One slot per bound plus a last one for `+Inf`. */
  readonly counts: number[]
  sum: number
  count: number
}

/** Adds one observation to a histogram series. */
export function observe (cell: HistogramCell, value: number): void {
  const bounds = cell.bounds
  let i = 0
  // Linear scan: 10–15 bounds, cheaper than a binary search's branches at this size.
  while (i < bounds.length && value > bounds[i]) i++
  cell.counts[i]++
  cell.sum += value
  cell.count++
}

interface ExportedValue {
  labels: Record<string, string | number>
  value: number
  metricName?: string
}

/** Our values are always current, so there is nothing to collect before a scrape. */
function noCollect (): void {}

type Exported = Awaited<ReturnType<Counter<string>['get']>>

/** What prom-client's registry reads from a metric at scrape time. */
function metricObject (name: string, help: string, kind: 'counter' | 'gauge' | 'histogram', values: ExportedValue[]): Exported {
  // prom-client's typings declare `type` as a numeric enum that its runtime never uses: the
  // registry prints the string, so the string it is.
  return { name, help, type: kind as unknown as MetricType, aggregator: 'sum', collect: noCollect, values }
}

interface FamilySpec {
  registry: Registry
  name: string
  help: string
  labelNames: readonly string[]
}

function labelsOf (labelNames: readonly string[], values: readonly string[]): Labels {
  const labels: Labels = {}
  for (let i = 0; i < labelNames.length; i++) labels[labelNames[i]] = values[i] ?? ''
  return labels
}

/** Series keyed by their label values, created on first use and kept for the process' life. */
abstract class Family<C> {
  readonly name: string
  readonly labelNames: readonly string[]
  protected readonly cells = new Map<string, C>()

  constructor (spec: FamilySpec) {
    this.name = spec.name
    this.labelNames = spec.labelNames
  }

  /** The series for these label values (in `labelNames` order); call off the per-event path. */
  cell (values: readonly string[]): C {
    const key = values.join('\u0001')
    let cell = this.cells.get(key)
    if (cell === undefined) {
      cell = this.create(labelsOf(this.labelNames, values))
      this.cells.set(key, cell)
    }
    return cell
  }

  /** Every series created so far (for tests and readers in-process). */
  all (): C[] {
    return [...this.cells.values()]
  }

  protected abstract create (labels: Labels): C
}

/** A monotonically increasing count (`_total`). */
export class CounterFamily extends Family<ValueCell> {
  constructor (spec: FamilySpec) {
    super(spec)
    const cells = this.cells
    const exported = new (class extends Counter<string> {
      override async get () {
        const values: ExportedValue[] = []
        for (const c of cells.values()) values.push({ labels: c.labels, value: c.value })
        return metricObject(spec.name, spec.help, 'counter', values)
      }
    })({ name: spec.name, help: spec.help, labelNames: [...spec.labelNames], registers: [] })
    spec.registry.registerMetric(exported)
  }

  protected create (labels: Labels): ValueCell {
    return { labels, value: 0 }
  }
}

/** A value that goes up and down. */
export class GaugeFamily extends Family<ValueCell> {
  constructor (spec: FamilySpec) {
    super(spec)
    const cells = this.cells
    const exported = new (class extends Gauge<string> {
      override async get () {
        const values: ExportedValue[] = []
        for (const c of cells.values()) values.push({ labels: c.labels, value: c.value })
        return metricObject(spec.name, spec.help, 'gauge', values)
      }
    })({ name: spec.name, help: spec.help, labelNames: [...spec.labelNames], registers: [] })
    spec.registry.registerMetric(exported)
  }

  protected create (labels: Labels): ValueCell {
    return { labels, value: 0 }
  }
}

/** A distribution over fixed buckets, exported as cumulative `_bucket{le}`, `_sum`, `_count`. */
export class HistogramFamily extends Family<HistogramCell> {
  readonly bounds: readonly number[]

  constructor (spec: FamilySpec & { buckets: readonly number[] }) {
    super(spec)
    const bounds = Object.freeze([...spec.buckets].sort((a, b) => a - b))
    this.bounds = bounds
    const cells = this.cells
    const collectValues = (): ExportedValue[] => {
      const values: ExportedValue[] = []
      for (const c of cells.values()) {
        let cumulative = 0
        for (let i = 0; i < bounds.length; i++) {
          cumulative += c.counts[i]
          values.push({ metricName: `${spec.name}_bucket`, labels: { ...c.labels, le: bounds[i] }, value: cumulative })
        }
        values.push({ metricName: `${spec.name}_bucket`, labels: { ...c.labels, le: '+Inf' }, value: c.count })
        values.push({ metricName: `${spec.name}_sum`, labels: c.labels, value: c.sum })
        values.push({ metricName: `${spec.name}_count`, labels: c.labels, value: c.count })
      }
      return values
    }
    const exported = new (class extends Histogram<string> {
      override async get () {
        return metricObject(spec.name, spec.help, 'histogram', collectValues())
      }

      // The registry prefers this one for the text format when a metric has it (Histogram does).
      async getForPromString () {
        return this.get()
      }
    })({ name: spec.name, help: spec.help, labelNames: [...spec.labelNames], buckets: [...bounds], registers: [] })
    spec.registry.registerMetric(exported)
  }

  protected create (labels: Labels): HistogramCell {
    return { labels, bounds: this.bounds, counts: new Array<number>(this.bounds.length + 1).fill(0), sum: 0, count: 0 }
  }
}

/**
 * Caches series of several counter/gauge families by family and label values, for observers whose
 * events come in one call per label set (one string key and one map lookup per event).
 */
export class CellCache {
  private readonly cells = new Map<string, ValueCell>()

  get (family: CounterFamily | GaugeFamily, values: readonly string[]): ValueCell {
    const key = `${family.name}\u0001${values.join('\u0001')}`
    let cell = this.cells.get(key)
    if (cell === undefined) {
      cell = family.cell(values)
      this.cells.set(key, cell)
    }
    return cell
  }
}
