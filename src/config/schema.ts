/**
 * A small schema-driven validator: leaf checks, lists, maps and closed objects (unknown keys are
 * problems), each problem recorded with its exact path, what was found and what was expected.
 */
import { isAbsolute, resolve } from 'node:path'
import { parseDuration, parseSize, formatDuration, formatSize } from './units.js'

/** A path into the YAML document: map keys and list indexes. */
export type Path = ReadonlyArray<string | number>

/** One problem before it is tied to a file (see ConfigProblem for the public form). */
export interface Problem {
  path: Path
  found: string
  expected: string
}

export interface Context {
  /** Every problem found so far; validation never stops at the first. */
  readonly problems: Problem[]
  /** Directory that relative file paths resolve against. */
  readonly baseDir: string
}

/** Marks a value that failed; its problem is already in the context. */
export const INVALID: unique symbol = Symbol('invalid')
export type Parsed<T> = T | typeof INVALID

export interface Schema<T> {
  /** What a valid value looks like, for messages (`an integer 0–65535`). */
  readonly expected: string
  parse: (value: unknown, path: Path, ctx: Context) => Parsed<T>
}

const IDENTIFIER = /^[A-Za-z_$][\w$-]*$/

/** `['outbound', 'listeners', 1, 'port']` → `outbound.listeners[1].port`; odd keys are quoted. */
export function formatPath (path: Path): string {
  let out = ''
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`
    else if (IDENTIFIER.test(segment)) out += out === '' ? segment : `.${segment}`
    else out += `[${JSON.stringify(segment)}]`
  }
  return out === '' ? '(top level)' : out
}

/** A short rendering of what was found: `"abc"`, `70000`, `a list`, `missing`. */
export function describeValue (value: unknown): string {
  if (value === undefined) return 'missing'
  if (value === null) return 'null'
  if (typeof value === 'string') {
    const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value
    return JSON.stringify(shown)
  }
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  if (Array.isArray(value)) return `a list of ${value.length}`
  if (typeof value === 'object') return 'a map'
  return typeof value
}

/** Records a problem at `path` and returns INVALID. */
export function fail (ctx: Context, path: Path, value: unknown, expected: string): typeof INVALID {
  ctx.problems.push({ path, found: describeValue(value), expected })
  return INVALID
}

export function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A leaf: `convert` returns the typed value, or undefined when `value` is not acceptable. */
export function leaf<T> (expected: string, convert: (value: unknown) => T | undefined): Schema<T> {
  return {
    expected,
    parse: (value, path, ctx) => {
      const converted = convert(value)
      return converted === undefined ? fail(ctx, path, value, expected) : converted
    },
  }
}

/** A string, optionally checked by `test` (`expected` then says what passes). */
export function string (expected = 'a string', test?: (value: string) => boolean): Schema<string> {
  return leaf(expected, (value) => typeof value === 'string' && value !== '' && (test === undefined || test(value)) ? value : undefined)
}

/** One of a fixed set of strings. */
export function oneOf<T extends string> (values: readonly T[]): Schema<T> {
  const expected = `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`
  return leaf(expected, (value) => values.find((v) => v === value))
}

/** An integer in [min, max]. */
export function integer (min: number, max: number, expected = `an integer ${min}–${max}`): Schema<number> {
  return leaf(expected, (value) => typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max ? value : undefined)
}

/** A number (fractions allowed) in [min, max]. */
export function decimal (min: number, max: number, expected = `a number ${min}–${max}`): Schema<number> {
  return leaf(expected, (value) => typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max ? value : undefined)
}

/** `true` or `false`. */
export function boolean (): Schema<boolean> {
  return leaf('true or false', (value) => typeof value === 'boolean' ? value : undefined)
}

/** A duration (`5s`, `250ms`, bare ms) in [min, max] ms. */
export function duration (min: number, max = 24 * 3_600_000): Schema<number> {
  const expected = `a duration ${formatDuration(min)}–${formatDuration(max)} (like 250ms, 5s, 2m)`
  return leaf(expected, (value) => {
    const ms = parseDuration(value)
    return ms !== undefined && ms >= min && ms <= max ? ms : undefined
  })
}

/** A size (`64KiB`, `16MiB`, bare bytes) in [min, max] bytes. */
export function size (min: number, max: number): Schema<number> {
  const expected = `a size ${formatSize(min)}–${formatSize(max)} (like 64KiB, 16MiB)`
  return leaf(expected, (value) => {
    const bytes = parseSize(value)
    return bytes !== undefined && bytes >= min && bytes <= max ? bytes : undefined
  })
}

/** A file or directory path, made absolute against the config file's directory. */
export function filePath (expected = 'a file path'): Schema<string> {
  return {
    expected,
    parse: (value, path, ctx) => {
      if (typeof value !== 'string' || value === '') return fail(ctx, path, value, expected)
      return isAbsolute(value) ? value : resolve(ctx.baseDir, value)
    },
  }
}

/** A list whose every item matches `item`; each bad item is its own problem. */
export function list<T> (item: Schema<T>, minItems = 0): Schema<T[]> {
  const expected = `a list${minItems > 0 ? ` (at least ${minItems})` : ''} of: ${item.expected}`
  return {
    expected,
    parse: (value, path, ctx) => {
      if (!Array.isArray(value)) return fail(ctx, path, value, expected)
      if (value.length < minItems) return fail(ctx, path, value, expected)
      const out: T[] = []
      let ok = true
      value.forEach((element: unknown, index) => {
        const parsed = item.parse(element, [...path, index], ctx)
        if (parsed === INVALID) ok = false
        else out.push(parsed)
      })
      return ok ? out : INVALID
    },
  }
}

/** A map with free keys (checked by `key`) and values matching `item`. */
export function map<T> (item: Schema<T>, key: Schema<string> = string('a name')): Schema<Record<string, T>> {
  const expected = `a map of names to ${item.expected}`
  return {
    expected,
    parse: (value, path, ctx) => {
      if (value === null) return {}
      if (!isRecord(value)) return fail(ctx, path, value, expected)
      const out: Record<string, T> = {}
      let ok = true
      for (const [name, element] of Object.entries(value)) {
        const parsedKey = key.parse(name, [...path, name], ctx)
        const parsed = item.parse(element, [...path, name], ctx)
        if (parsedKey === INVALID || parsed === INVALID) ok = false
        else out[parsedKey] = parsed
      }
      return ok ? out : INVALID
    },
  }
}

/** How an object field behaves when the key is absent (or written empty, i.e. null). */
export interface Field<T> {
  readonly schema: Schema<T>
  readonly absent: 'problem' | 'omit' | 'default'
  /** Raw value parsed in place of an absent one (for `default`). */
  readonly fallback?: unknown
}

export function required<T> (schema: Schema<T>): Field<T> {
  return { schema, absent: 'problem' }
}

export function optional<T> (schema: Schema<T>): Field<T | undefined> {
  return { schema, absent: 'omit' }
}

/** Absent → `fallback` is parsed instead (so `{}` gives a section of defaults). */
export function withDefault<T> (schema: Schema<T>, fallback: unknown): Field<T> {
  return { schema, absent: 'default', fallback }
}

type FieldsOf<F> = { -readonly [K in keyof F]: F[K] extends Field<infer T> ? T : never }

/** Edit distance between two short strings, a swap of neighbours counting as one edit, for "did you mean". */
function editDistance (a: string, b: string): number {
  const x = a.toLowerCase()
  const y = b.toLowerCase()
  const d: number[][] = Array.from({ length: x.length + 1 }, (_, i) => Array.from({ length: y.length + 1 }, (_, j) => i === 0 ? j : j === 0 ? i : 0))
  for (let i = 1; i <= x.length; i++) {
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1)
    }
  }
  return d[x.length][y.length]
}

function unknownKeyExpected (key: string, known: string[]): string {
  const close = known
    .map((name) => ({ name, distance: editDistance(key, name) }))
    .filter((c) => c.distance <= Math.max(1, Math.floor(c.name.length / 3)))
    .sort((x, y) => x.distance - y.distance)[0]
  if (close !== undefined) return `no such key (did you mean "${close.name}"?)`
  return `no such key (known keys: ${known.join(', ')})`
}

/**
 * A closed map with named fields: unknown keys are problems, absent keys follow their field's
 * rule, and the result holds only the keys that have a value.
 */
export function object<F extends Record<string, Field<unknown>>> (fields: F, expected?: string): Schema<FieldsOf<F>> {
  const known = Object.keys(fields)
  const shape = expected ?? `a map with keys ${known.join(', ')}`
  return {
    expected: shape,
    parse: (value, path, ctx) => {
      if (!isRecord(value)) return fail(ctx, path, value, shape)
      let ok = true
      for (const key of Object.keys(value)) {
        if (!Object.hasOwn(fields, key)) {
          ok = false
          ctx.problems.push({ path: [...path, key], found: `unknown key "${key}"`, expected: unknownKeyExpected(key, known) })
        }
      }
      const out: Record<string, unknown> = {}
      for (const [key, field] of Object.entries(fields)) {
        let raw = value[key]
        if (raw === undefined || raw === null) {
          if (field.absent === 'omit') continue
          if (field.absent === 'problem') {
            fail(ctx, [...path, key], raw, field.schema.expected)
            ok = false
            continue
          }
          raw = field.fallback
        }
        const parsed = field.schema.parse(raw, [...path, key], ctx)
        if (parsed === INVALID) ok = false
        else if (parsed !== undefined) out[key] = parsed
      }
      return ok ? out as FieldsOf<F> : INVALID
    },
  }
}

/**
 * A map whose `tag` key (e.g. `kind`) picks the schema the whole map is checked against; each
 * variant's schema lists the tag among its own keys. An unknown tag is one problem at the tag.
 */
export function tagged<T> (tag: string, variants: Readonly<Record<string, Schema<T>>>): Schema<T> {
  const names = Object.keys(variants)
  const expected = `a map with ${tag}: ${names.join(' | ')}`
  return {
    expected,
    parse: (value, path, ctx) => {
      if (!isRecord(value)) return fail(ctx, path, value, expected)
      const which = value[tag]
      const variant = typeof which === 'string' && Object.hasOwn(variants, which) ? variants[which] : undefined
      if (variant === undefined) return fail(ctx, [...path, tag], which, `one of ${names.map((n) => JSON.stringify(n)).join(', ')}`)
      return variant.parse(value, path, ctx)
    },
  }
}

/** `false` switches a section off (→ undefined); anything else must match `schema`. */
export function orFalse<T> (schema: Schema<T>): Schema<T | undefined> {
  return {
    expected: `${schema.expected}, or false`,
    parse: (value, path, ctx) => value === false ? undefined : schema.parse(value, path, ctx),
  }
}

/** Runs `then` on a value that passed `schema`, to derive fields or check one object as a whole. */
export function refine<T, U> (schema: Schema<T>, then: (value: T, path: Path, ctx: Context) => Parsed<U>): Schema<U> {
  return {
    expected: schema.expected,
    parse: (value, path, ctx) => {
      const parsed = schema.parse(value, path, ctx)
      return parsed === INVALID ? INVALID : then(parsed, path, ctx)
    },
  }
}
