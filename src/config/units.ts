/**
 * Units in config values: durations (`250ms`, `5s`, `2m`, `1h`, bare ms) and sizes
 * (`64KiB`, `16MiB`, `1MB`, bare bytes), parsed to integer ms and bytes.
 */

const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }

const SIZE_UNITS: Readonly<Record<string, number>> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
}

const QUANTITY = /^(\d+(?:\.\d+)?) ?([A-Za-z]*)$/

function parseQuantity (input: unknown, units: Readonly<Record<string, number>>, bareUnit: number): number | undefined {
  if (typeof input === 'number') {
    return Number.isSafeInteger(input) && input >= 0 ? input * bareUnit : undefined
  }
  if (typeof input !== 'string') return undefined
  const match = QUANTITY.exec(input.trim())
  if (match === null) return undefined
  const amount = Number(match[1])
  const unitName = match[2].toLowerCase()
  const unit = unitName === '' ? bareUnit : units[unitName]
  if (unit === undefined) return undefined
  const exact = amount * unit
  const value = Math.round(exact)
  // A fraction is fine (`1.5s`) as long as it lands on a whole ms or byte (up to float noise).
  if (Math.abs(exact - value) > 1e-6 || !Number.isSafeInteger(value)) return undefined
  return value
}

/**
 * A duration in ms: `250ms`, `5s`, `1.5s`, `2m`, `1h`, or a bare non-negative integer of ms.
 * Returns undefined for anything else (negative, unknown unit, not a whole ms).
 */
export function parseDuration (input: unknown): number | undefined {
  return parseQuantity(input, DURATION_UNITS, 1)
}

/**
 * A size in bytes: `64KiB`, `16MiB`, `1GiB` (powers of 1024), `1KB`, `1MB`, `1GB` (powers of
 * 1000), `512B`, or a bare non-negative integer of bytes. Unit letters are case-insensitive.
 * Returns undefined for anything else.
 */
export function parseSize (input: unknown): number | undefined {
  return parseQuantity(input, SIZE_UNITS, 1)
}

/** `5000` → `5s`, `250` → `250ms`, `120000` → `2m`, `3600000` → `1h`: the shortest exact form, for messages. */
export function formatDuration (ms: number): string {
  if (ms !== 0 && ms % 3_600_000 === 0) return `${ms / 3_600_000}h`
  if (ms !== 0 && ms % 60_000 === 0) return `${ms / 60_000}m`
  if (ms !== 0 && ms % 1_000 === 0) return `${ms / 1_000}s`
  return `${ms}ms`
}

/** `65536` → `64KiB`, `1000000` → `1MB`: the shortest exact form, for messages. */
export function formatSize (bytes: number): string {
  for (const [name, unit] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024], ['GB', 1e9], ['MB', 1e6], ['KB', 1e3]] as const) {
    if (bytes !== 0 && bytes % unit === 0) return `${bytes / unit}${name}`
  }
  return `${bytes}B`
}
