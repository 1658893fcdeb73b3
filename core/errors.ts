/**
 * Every error meshgate raises, each with a stable code. Inner layers throw these; one rescue at
 * the edge of each role turns them into an HTTP status and the `meshgate-error` header.
 * docs/errors.md lists the same codes (a test keeps the two in step).
 */

/** The catalogue: code → HTTP status answered to the client and a one-line meaning. */
export const ERROR_CODES = {
  E_BAD_REQUEST: { status: 400, meaning: 'the request could not be parsed' },
  E_HEADERS_TOO_LARGE: { status: 431, meaning: 'the request head exceeds the configured limit' },
  E_HEADER_TIMEOUT: { status: 408, meaning: 'an app client did not complete its request head within timeouts.headerReadMs; the connection was closed' },
  E_NO_ROUTE: { status: 404, meaning: 'no service is configured for this authority' },
  E_NO_ENDPOINT: { status: 503, meaning: 'the service has no endpoint ready' },
  E_FORBIDDEN: { status: 403, meaning: 'the caller identity is not allowed for this target' },
  E_TARGET_NOT_ALLOWED: { status: 503, meaning: 'the inbound side does not deliver to this target' },
  E_PEER_UNREACHABLE: { status: 502, meaning: 'the peer proxy could not be reached' },
  E_PEER_REFUSED: { status: 502, meaning: 'the peer proxy refused the stream' },
  E_PEER_IDENTITY: { status: 502, meaning: 'the peer presented an identity other than the one discovery expects' },
  E_PEER_TLS: { status: 502, meaning: 'the TLS handshake with the peer failed' },
  E_PEER_RESET: { status: 502, meaning: 'the peer reset the stream or the session failed mid-stream' },
  E_PEER_RAPID_RESET: { status: 429, meaning: 'a calling peer reset most of its streams right after opening them (premature-reset rule); its session was closed with GOAWAY' },
  E_PEER_FLOOD: { status: 429, meaning: 'a calling peer flooded the session with empty or control frames; its session was closed with GOAWAY' },
  E_APP_RAPID_RESET: { status: 429, meaning: 'an app h2c client reset most of its streams right after opening them (premature-reset rule); its session was closed with GOAWAY' },
  E_APP_FLOOD: { status: 429, meaning: 'an app h2c client sent empty DATA or HEADERS frames in a row (native data plane); its session was closed with GOAWAY' },
  E_UPSTREAM_UNREACHABLE: { status: 502, meaning: 'the local target could not be reached' },
  E_UPSTREAM_RESET: { status: 502, meaning: 'the local target closed or reset the exchange' },
  E_CONNECT_TIMEOUT: { status: 504, meaning: 'connecting took longer than the configured connect timeout' },
  E_REQUEST_TIMEOUT: { status: 504, meaning: 'the response did not start within the configured request timeout (the route\'s, or a gRPC deadline), or within a route\'s per-try timeout on its last try' },
  E_RATE_LIMITED: { status: 429, meaning: 'the inbound side\'s local rate limit (total or for this caller identity) refused the request' },
  E_IDLE_TIMEOUT: { status: 504, meaning: 'no bytes moved for longer than the configured idle timeout' },
  E_DRAINING: { status: 503, meaning: 'the proxy is shutting down and takes no new work' },
  E_TRANSPORT_UNAVAILABLE: { status: 502, meaning: 'the transport the endpoint asks for is not available in this build' },
  E_GATEWAY_UNTRUSTED_DOMAIN: { status: 403, meaning: 'the gateway does not accept callers of this trust domain' },
  E_GATEWAY_DOMAIN_MISMATCH: { status: 403, meaning: 'the caller\'s certificate does not chain to the CA the gateway trusts for the trust domain its SPIFFE ID names' },
  E_GATEWAY_NOT_EXPORTED: { status: 404, meaning: 'the gateway does not export this service (it is never an open relay)' },
  E_GATEWAY_FORBIDDEN: { status: 403, meaning: 'the caller identity is not allowed for this exported service' },
  E_GATEWAY_MODE: { status: 421, meaning: 'the stream does not fit the export\'s mode (an end-to-end export takes only the tunnel; a terminate export only plain streams)' },
  E_GATEWAY_UNREACHABLE: { status: 502, meaning: 'the gateway of the remote cluster could not be reached' },
  E_PLUGIN: { status: 500, meaning: 'a Proxy-Wasm plugin trapped, ran past its time budget, or is disabled; only this request failed' },
  E_REDIRECT: { status: 500, meaning: 'installing or removing the transparent-redirect iptables rules failed' },
  E_REDIRECT_DENIED: { status: 500, meaning: 'not permitted to change iptables rules in this network namespace (needs root or CAP_NET_ADMIN)' },
  E_ORIGINAL_DST: { status: 500, meaning: 'the original destination of a redirected connection cannot be read (SO_ORIGINAL_DST: engine addon missing, or no conntrack)' },
  E_IDENTITY_REJECTED: { status: 500, meaning: 'new identity files were refused (cert/key mismatch, expired, not from a trusted CA); the previous identity stays in use' },
  E_TRUST_ROOTS_REJECTED: { status: 500, meaning: 'a changed gateway trust domain CA file was refused (unreadable, no PEM certificate, unparsable, not a CA); the previous roots stay in use' },
  E_CONFIG: { status: 500, meaning: 'the configuration is invalid' },
  E_INTERNAL: { status: 500, meaning: 'an unexpected failure inside meshgate' },
} as const

export type ErrorCode = keyof typeof ERROR_CODES

/** The header that carries the error code on every response meshgate generates itself. */
export const ERROR_HEADER = 'meshgate-error'

/** A failure with a stable code; `status` is what the rescue answers with. */
export class MeshError extends Error {
  readonly code: ErrorCode
  readonly status: number

  constructor (code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'MeshError'
    this.code = code
    this.status = ERROR_CODES[code].status
  }
}

/** Any thrown value as a MeshError: MeshErrors pass through, the rest become `fallback`. */
export function toMeshError (err: unknown, fallback: ErrorCode = 'E_INTERNAL'): MeshError {
  if (err instanceof MeshError) return err
  const message = err instanceof Error ? err.message : String(err)
  return new MeshError(fallback, message, { cause: err })
}

/** One problem found while validating a config file. */
export interface ConfigProblem {
  /** YAML path, e.g. `outbound.listeners[1].port`. */
  path: string
  /** What was found there, rendered short (`"abc"`, `missing`). */
  found: string
  /** What the schema expected. */
  expected: string
}

/** A config that failed validation; lists every problem, not only the first. */
export class ConfigError extends MeshError {
  readonly file: string
  readonly problems: readonly ConfigProblem[]

  constructor (file: string, problems: readonly ConfigProblem[]) {
    const lines = problems.map((p) => `  ${file}: ${p.path}: expected ${p.expected}, found ${p.found}`)
    super('E_CONFIG', `invalid config (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n${lines.join('\n')}`)
    this.name = 'ConfigError'
    this.file = file
    this.problems = problems
  }
}
