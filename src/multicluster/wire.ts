/**
 * The wire protocol of the gateway hop (multi-cluster), shared by the calling side and the gateway:
 * header names, the exports endpoint and the shape of its answer.
 */

/** Headers of the gateway hop. */
export const GATEWAY_HEADERS = {
  /** Request → gateway: the exported service the stream is for (terminate mode, and e2e too). */
  service: 'meshgate-gateway-service',
  /** Request → gateway on the CONNECT of an end-to-end tunnel: `e2e`. */
  mode: 'meshgate-gateway-mode',
  /** Gateway → caller on an e2e tunnel's 200: the identity the final inbound will present. */
  peerIdentity: 'meshgate-peer-identity',
} as const

/** `:authority` and `:path` of the exports endpoint (GET, over an authenticated peer session). */
export const EXPORTS_AUTHORITY = 'meshgate.gateway'
export const EXPORTS_PATH = '/.meshgate/exports'
/** Largest exports answer a caller reads, bytes (1 MiB). */
export const EXPORTS_MAX_BYTES = 1024 * 1024

/** One exported service as the gateway publishes it to a caller allowed to use it. */
export interface ExportedService {
  mode: 'e2e' | 'terminate'
  /** Identities the service's inbounds present (what an e2e inner session may meet). */
  identities: string[]
}

/** The exports answer: only the services this caller is allowed to reach. */
export interface ExportsDocument {
  services: Record<string, ExportedService>
}

/** Parses an exports answer; throws an Error saying what is wrong. */
export function parseExports (text: string): ExportsDocument {
  const doc: unknown = JSON.parse(text)
  if (typeof doc !== 'object' || doc === null || typeof (doc as { services?: unknown }).services !== 'object') throw new Error('no services map')
  const out: ExportsDocument = { services: {} }
  for (const [name, raw] of Object.entries((doc as { services: Record<string, unknown> }).services)) {
    const s = raw as { mode?: unknown, identities?: unknown }
    if (s === null || typeof s !== 'object') throw new Error(`services.${name} is not a map`)
    if (s.mode !== 'e2e' && s.mode !== 'terminate') throw new Error(`services.${name}.mode is not e2e or terminate`)
    if (!Array.isArray(s.identities) || !s.identities.every((i): i is string => typeof i === 'string' && i.startsWith('spiffe://'))) {
      throw new Error(`services.${name}.identities is not a list of SPIFFE IDs`)
    }
    out.services[name] = { mode: s.mode, identities: s.identities }
  }
  return out
}
