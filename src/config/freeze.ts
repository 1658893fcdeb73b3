/**
 * Deep freezing, so a loaded config cannot be changed by any component after boot.
 */

/** Freezes `value` and everything reachable from it (in place); returns it. */
export function deepFreeze<T> (value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key])
  }
  return value
}
