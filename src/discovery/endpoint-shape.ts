// Validates endpoint entries written by hand (static config, discovery file) into Endpoints.
import type { ConfigProblem } from '../../core/errors.js'
import type { TransportName } from '../config/types.js'
import { parseHostPort } from './address.js'
import { endpointKey, type Endpoint } from './types.js'

const TRANSPORTS: readonly TransportName[] = ['h2', 'h3', 'auto']
const ENDPOINT_KEYS = new Set(['peer', 'identity', 'target', 'weight', 'transport', 'zone', 'labels'])

function render (value: unknown): string {
  if (value === undefined) return 'missing'
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * One endpoint entry `{ peer, identity, target, weight?, transport?, zone?, labels? }` → Endpoint; every
 * problem is appended to `problems` (with `path` as the YAML path) and undefined returned.
 * Defaults: weight 1, transport `auto` (no preference). Unknown keys are problems (typos).
 */
export function endpointFromEntry (entry: unknown, path: string, problems: ConfigProblem[]): Endpoint | undefined {
  if (!isRecord(entry)) {
    problems.push({ path, found: render(entry), expected: 'an object with peer, identity, target' })
    return undefined
  }
  const before = problems.length
  for (const key of Object.keys(entry)) {
    if (!ENDPOINT_KEYS.has(key)) problems.push({ path: `${path}.${key}`, found: render(entry[key]), expected: `no such key (known: ${[...ENDPOINT_KEYS].join(', ')})` })
  }
  const peer = typeof entry.peer === 'string' ? parseHostPort(entry.peer) : undefined
  if (peer === undefined) problems.push({ path: `${path}.peer`, found: render(entry.peer), expected: 'host:port' })
  const target = entry.target
  if (typeof target !== 'string' || parseHostPort(target) === undefined) problems.push({ path: `${path}.target`, found: render(target), expected: 'host:port' })
  const identity = entry.identity
  if (typeof identity !== 'string' || !identity.startsWith('spiffe://')) problems.push({ path: `${path}.identity`, found: render(identity), expected: 'a SPIFFE ID spiffe://...' })
  const weight = entry.weight ?? 1
  if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= 0) problems.push({ path: `${path}.weight`, found: render(entry.weight), expected: 'a number > 0' })
  const transport = entry.transport ?? 'auto'
  if (!TRANSPORTS.includes(transport as TransportName)) problems.push({ path: `${path}.transport`, found: render(entry.transport), expected: TRANSPORTS.join(' | ') })
  const zone = entry.zone
  if (zone !== undefined && typeof zone !== 'string') problems.push({ path: `${path}.zone`, found: render(zone), expected: 'a string' })
  const labels = entry.labels
  const labelsOk = labels === undefined || (isRecord(labels) && Object.values(labels).every((v) => typeof v === 'string'))
  if (!labelsOk) problems.push({ path: `${path}.labels`, found: render(labels), expected: 'a map of label names to strings' })
  if (problems.length > before || peer === undefined) return undefined
  const endpoint: Endpoint = {
    key: endpointKey(peer, target as string),
    peer,
    identity: identity as string,
    target: target as string,
    weight: weight as number,
    transport: transport as TransportName,
  }
  if (typeof zone === 'string') endpoint.zone = zone
  if (labels !== undefined) endpoint.labels = { ...(labels as Record<string, string>) }
  return endpoint
}

/** A list of entries at `path` → Endpoints (problems appended; bad entries left out). */
export function endpointsFromEntries (entries: unknown, path: string, problems: ConfigProblem[]): Endpoint[] {
  if (!Array.isArray(entries)) {
    problems.push({ path, found: render(entries), expected: 'a list of endpoints' })
    return []
  }
  const out: Endpoint[] = []
  entries.forEach((entry, i) => {
    const endpoint = endpointFromEntry(entry, `${path}[${i}]`, problems)
    if (endpoint !== undefined) out.push(endpoint)
  })
  return out
}

export { isRecord, render }
