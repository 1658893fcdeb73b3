/**
 * Validation of a parsed YAML document: the schema (types, ranges, unknown keys, defaults) and
 * the cross-field checks, every problem collected before anything is rejected.
 *
 * Written for meshgate rather than taken from a JSON-Schema library: the rules that matter most
 * here (listener → service references, one port per socket, endpoints of this very process) are
 * not expressible in JSON Schema, and a small typed validator gives exact YAML paths, unit parsing
 * and defaults in one pass, with the schema type-checked against types.ts.
 */
import type { MeshConfig } from './types.js'
import { checkReferences } from './checks.js'
import { meshConfigSchema } from './mesh-schema.js'
import { INVALID, type Context, type Problem } from './schema.js'

export type { Problem } from './schema.js'

export interface Validated {
  /** The config without `file`, when there are no problems. */
  config?: Omit<MeshConfig, 'file'>
  /** Every problem, in the order found (schema first, then cross-field checks). */
  problems: Problem[]
}

/**
 * Validates `raw` (a parsed YAML document; null or undefined mean an empty file). Relative paths
 * are resolved against `baseDir`.
 */
export function validateConfig (raw: unknown, baseDir: string): Validated {
  const ctx: Context = { problems: [], baseDir }
  const document = raw === null || raw === undefined ? {} : raw
  const parsed = meshConfigSchema.parse(document, [], ctx)
  checkReferences(document, ctx)
  if (parsed === INVALID || ctx.problems.length > 0) return { problems: ctx.problems }
  return { config: parsed, problems: [] }
}
