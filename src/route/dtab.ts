/**
 * Delegation tables (dtabs), as Finagle and linkerd-tcp use them: `prefix => tree` entries
 * separated by `;`. A tree is a path, a weighted union (`1 * /svc/web-v2 & 9 * /svc/web-v1`), an
 * alternation tried left to right (`/svc/a | /svc/b`), `!` (fail), `~` (nothing here: fall back)
 * or `$` (empty), with parentheses for grouping; `&` binds tighter than `|`. A prefix segment `*`
 * matches any one segment.
 *
 * Resolution rewrites a path by the entries whose prefix matches it, the last entry first (a
 * later entry overrides an earlier one, falling back to it when it resolves to nothing), and
 * repeats on the result until it reaches a leaf `/#/<service>`: a service of this config. The
 * result is a tree of services with the alternations already decided (a branch that names no
 * known service falls through); a request then picks one service by the union weights.
 */

export type DtabTree =
  | { kind: 'path', path: string[] }
  | { kind: 'union', branches: Array<{ weight: number, tree: DtabTree }> }
  | { kind: 'alt', trees: DtabTree[] }
  | { kind: 'fail' } | { kind: 'neg' } | { kind: 'empty' }

export interface Dentry { prefix: string[], tree: DtabTree }

/** A resolved name: services to pick from by weight, or nothing (`neg`), or a failure. */
export type Resolved =
  | { kind: 'service', service: string }
  | { kind: 'union', branches: Array<{ weight: number, tree: Resolved }> }
  | { kind: 'neg' } | { kind: 'fail' }

export class DtabSyntaxError extends Error {
  constructor (message: string, readonly offset: number) { super(message) }
}

const SEGMENT = /^[A-Za-z0-9_.:#$%+-]+$/

class Parser {
  pos = 0
  constructor (readonly text: string) {}

  ws (): void { while (this.pos < this.text.length && /\s/.test(this.text[this.pos])) this.pos++ }
  peek (): string { this.ws(); return this.text[this.pos] ?? '' }
  eat (s: string): boolean {
    this.ws()
    if (this.text.startsWith(s, this.pos)) { this.pos += s.length; return true }
    return false
  }

  error (what: string): never {
    const near = this.text.slice(this.pos, this.pos + 12)
    throw new DtabSyntaxError(`${what} at offset ${this.pos}${near === '' ? ' (end of text)' : ` near "${near}"`}`, this.pos)
  }

  path (allowWildcard: boolean): string[] {
    this.ws()
    if (this.text[this.pos] !== '/') this.error('expected a path starting with /')
    const segments: string[] = []
    while (this.text[this.pos] === '/') {
      this.pos++
      const start = this.pos
      while (this.pos < this.text.length && /[^\s/|&*()=;!~]/.test(this.text[this.pos])) this.pos++
      let segment = this.text.slice(start, this.pos)
      if (segment === '' && allowWildcard && this.text[this.pos] === '*') { this.pos++; segment = '*' }
      if (segment === '') {
        if (segments.length === 0 && !/[A-Za-z0-9_]/.test(this.text[this.pos] ?? '')) break // `/` alone: the empty path
        this.error('expected a path segment')
      }
      if (segment !== '*' && !SEGMENT.test(segment)) this.error(`bad path segment "${segment}"`)
      segments.push(segment)
    }
    return segments
  }

  simple (): DtabTree {
    const c = this.peek()
    if (c === '!') { this.pos++; return { kind: 'fail' } }
    if (c === '~') { this.pos++; return { kind: 'neg' } }
    if (c === '$') { this.pos++; return { kind: 'empty' } }
    if (c === '(') {
      this.pos++
      const tree = this.alt()
      if (!this.eat(')')) this.error('expected )')
      return tree
    }
    return { kind: 'path', path: this.path(false) }
  }

  weighted (): { weight: number, tree: DtabTree } {
    this.ws()
    const m = /^(\d+(\.\d+)?)\s*\*/.exec(this.text.slice(this.pos))
    let weight = 1
    if (m !== null) {
      weight = Number(m[1])
      this.pos += m[0].length
    }
    return { weight, tree: this.simple() }
  }

  union (): DtabTree {
    const branches = [this.weighted()]
    while (this.eat('&')) branches.push(this.weighted())
    if (branches.length === 1 && branches[0].weight === 1) return branches[0].tree
    if (branches.every((b) => b.weight === 0)) this.error('a union whose weights sum to 0')
    return { kind: 'union', branches }
  }

  alt (): DtabTree {
    const trees = [this.union()]
    while (this.eat('|')) trees.push(this.union())
    return trees.length === 1 ? trees[0] : { kind: 'alt', trees }
  }
}

/** Parses a dtab; throws DtabSyntaxError saying where and what was expected. */
export function parseDtab (text: string): Dentry[] {
  const p = new Parser(text)
  const entries: Dentry[] = []
  while (p.peek() !== '') {
    const prefix = p.path(true)
    if (!p.eat('=>')) p.error('expected =>')
    entries.push({ prefix, tree: p.alt() })
    if (!p.eat(';') && p.peek() !== '') p.error('expected ; between entries')
  }
  return entries
}

/** Parses one path (`/svc/web`); throws DtabSyntaxError. */
export function parsePath (text: string): string[] {
  const p = new Parser(text)
  const path = p.path(false)
  if (p.peek() !== '') p.error('expected the end of the path')
  return path
}

const MAX_DEPTH = 32

function matches (prefix: string[], path: string[]): boolean {
  if (prefix.length > path.length) return false
  return prefix.every((s, i) => s === '*' || s === path[i])
}

/**
 * Resolves `path` against `dtab` into services of `known` (a leaf `/#/<name>`; anything after
 * the name is ignored). Loops and chains deeper than 32 rewrites resolve to `fail`.
 */
export function resolvePath (dtab: readonly Dentry[], path: readonly string[], known: (service: string) => boolean, depth = 0): Resolved {
  if (depth > MAX_DEPTH) return { kind: 'fail' }
  if (path[0] === '#') return path.length >= 2 && known(path[1]) ? { kind: 'service', service: path[1] } : { kind: 'neg' }
  // The last matching entry first; each one falls back to the ones before it.
  for (let i = dtab.length - 1; i >= 0; i--) {
    const entry = dtab[i]
    if (!matches(entry.prefix, path as string[])) continue
    const rest = path.slice(entry.prefix.length)
    const out = resolveTree(dtab, entry.tree, rest, known, depth + 1)
    if (out.kind !== 'neg') return out
  }
  return { kind: 'neg' }
}

function resolveTree (dtab: readonly Dentry[], tree: DtabTree, rest: readonly string[], known: (service: string) => boolean, depth: number): Resolved {
  switch (tree.kind) {
    case 'fail': return { kind: 'fail' }
    case 'neg': case 'empty': return { kind: 'neg' }
    case 'path': return resolvePath(dtab, [...tree.path, ...rest], known, depth)
    case 'alt':
      for (const t of tree.trees) {
        const out = resolveTree(dtab, t, rest, known, depth)
        if (out.kind !== 'neg') return out
      }
      return { kind: 'neg' }
    case 'union': {
      const branches = tree.branches
        .filter((b) => b.weight > 0)
        .map((b) => ({ weight: b.weight, tree: resolveTree(dtab, b.tree, rest, known, depth) }))
        .filter((b) => b.tree.kind !== 'neg')
      if (branches.length === 0) return { kind: 'neg' }
      if (branches.length === 1) return branches[0].tree
      return { kind: 'union', branches }
    }
  }
}

/** One service out of a resolved name, by the union weights (`random` in [0, 1)); undefined for neg/fail. */
export function pickService (resolved: Resolved, random: () => number = Math.random): string | undefined {
  let node = resolved
  for (;;) {
    if (node.kind === 'service') return node.service
    if (node.kind !== 'union') return undefined
    const total = node.branches.reduce((s, b) => s + b.weight, 0)
    let r = random() * total
    let chosen = node.branches[node.branches.length - 1].tree
    for (const b of node.branches) {
      if (r < b.weight) { chosen = b.tree; break }
      r -= b.weight
    }
    node = chosen
  }
}

/** The services a resolved name may pick, each once. */
export function servicesOf (resolved: Resolved): string[] {
  if (resolved.kind === 'service') return [resolved.service]
  if (resolved.kind !== 'union') return []
  return [...new Set(resolved.branches.flatMap((b) => servicesOf(b.tree)))]
}
