/**
 * Loading a config file: read, parse YAML, validate, apply defaults, deep-freeze. Every failure
 * names the file; validation problems also name the YAML path and the line.
 */
import { readFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { createRequire } from 'node:module'
import type * as Yaml from 'yaml'
import { ConfigError, MeshError, type ConfigProblem } from '../../core/errors.js'
import type { MeshConfig } from './types.js'
import { deepFreeze } from './freeze.js'
import { formatPath, type Path } from './schema.js'
import { validateConfig, type Problem } from './validate.js'

// require, not import: see log.ts (no cjs-module-lexer for a CommonJS package).
const { LineCounter, parseDocument } = createRequire(import.meta.url)('yaml') as typeof Yaml

/** The line of the node at `path`, or of its nearest ancestor present in the document. */
function lineOf (doc: Yaml.Document, lines: Yaml.LineCounter, path: Path): number | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const node: unknown = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true)
    const range = typeof node === 'object' && node !== null && 'range' in node ? node.range : undefined
    if (Array.isArray(range) && typeof range[0] === 'number') return lines.linePos(range[0]).line
  }
  return undefined
}

function withLines (doc: Yaml.Document, lines: Yaml.LineCounter, problems: Problem[]): ConfigProblem[] {
  return problems
    .map((p, order) => ({ p, order, line: lineOf(doc, lines, p.path) }))
    .sort((a, b) => (a.line ?? Infinity) - (b.line ?? Infinity) || a.order - b.order)
    .map(({ p, line }) => ({
      path: formatPath(p.path),
      found: line === undefined ? p.found : `${p.found} (line ${line})`,
      expected: p.expected,
    }))
}

/**
 * Parses and validates config text as if read from `file` (relative paths resolve against its
 * directory). Throws ConfigError listing every problem, YAML syntax errors included.
 */
export function parseConfig (text: string, file: string): MeshConfig {
  const absolute = resolve(file)
  const lines = new LineCounter()
  // merge: YAML `<<: *anchor` keys, handy for repeated endpoint blocks.
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, merge: true })
  if (doc.errors.length > 0) {
    throw new ConfigError(absolute, doc.errors.map((e) => {
      const at = lines.linePos(e.pos[0])
      return { path: `line ${at.line}, column ${at.col}`, found: e.message.split('\n')[0], expected: 'valid YAML' }
    }))
  }
  let raw: unknown
  try {
    raw = doc.toJS({ maxAliasCount: 100 })
  } catch (err) {
    throw new ConfigError(absolute, [{ path: '(document)', found: err instanceof Error ? err.message : String(err), expected: 'valid YAML' }])
  }
  const { config, problems } = validateConfig(raw, dirname(absolute))
  if (config === undefined) throw new ConfigError(absolute, withLines(doc, lines, problems))
  return deepFreeze({ file: absolute, ...config })
}

/**
 * Reads, validates and freezes the config at `file`.
 * Throws MeshError `E_CONFIG` if the file cannot be read, ConfigError if its content is invalid.
 */
export async function loadConfig (file: string): Promise<MeshConfig> {
  const absolute = resolve(file)
  let text: string
  try {
    text = await readFile(absolute, 'utf8')
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err instanceof Error ? err.message : String(err))
    throw new MeshError('E_CONFIG', `cannot read config file ${absolute}: ${reason}`, { cause: err })
  }
  return parseConfig(text, absolute)
}
