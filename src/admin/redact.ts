/** Copies a config for display with the values of secret-looking keys replaced. */

/** Key names whose values never leave the process: `key`, `token`, `password`, `secret` and `…Key`-style suffixes. */
const SECRET_WORD = '(?:key|token|password|passphrase|secret)s?$'
const SECRET_KEYS = [
  new RegExp(`^${SECRET_WORD}`, 'i'), // key, Token
  new RegExp(`[_-]${SECRET_WORD}`, 'i'), // client_secret, api-key
  /[a-z0-9](?:Key|Token|Password|Passphrase|Secret)s?$/, // privateKey, apiToken (not monkey)
]

function isSecretKey (name: string): boolean {
  return SECRET_KEYS.some((r) => r.test(name))
}

export const REDACTED = '[redacted]'

/** A deep copy of `value` (plain data) with secret keys' values replaced by `[redacted]`. */
export function redactSecrets (value: unknown): unknown {
  return copy(value, new WeakSet())
}

function copy (value: unknown, seen: WeakSet<object>): unknown {
  if (value === null || typeof value !== 'object') return value
  if (seen.has(value)) return '[circular]'
  seen.add(value)
  if (Array.isArray(value)) return value.map((v) => copy(v, seen))
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) {
    out[k] = isSecretKey(k) && v !== undefined && v !== null ? REDACTED : copy(v, seen)
  }
  return out
}
