// Stable codes for discovery problems, carried in the `code` field of log lines and in metrics.

/**
 * A source that hits one of these keeps serving its last good endpoint set. They are log codes,
 * not request errors: a request only ever sees E_NO_ENDPOINT / E_NO_ROUTE (core/errors.ts).
 */
export const DISCOVERY_ERROR_CODES = {
  E_DISCOVERY_FILE_READ: 'the discovery file could not be read',
  E_DISCOVERY_FILE_SYNTAX: 'the discovery file is not valid YAML/JSON',
  E_DISCOVERY_FILE_INVALID: 'the discovery file does not have the expected shape',
  E_DISCOVERY_DNS_FAILED: 'the DNS lookup failed (timeout, refused, server failure)',
  E_DISCOVERY_DNS_EMPTY: 'the DNS answer held no records',
  E_DISCOVERY_K8S_CREDENTIALS: 'the Kubernetes token or CA could not be read',
  E_DISCOVERY_K8S_HTTP: 'the Kubernetes API server answered with an error status',
  E_DISCOVERY_K8S_STREAM: 'the Kubernetes watch connection failed or sent an unreadable line',
  E_DISCOVERY_K8S_GONE: 'the Kubernetes resourceVersion expired (410 Gone); relisting',
  E_DISCOVERY_GATEWAY_FAILED: 'the remote cluster\'s gateway could not be asked for its exports (unreachable, refused, bad answer)',
  E_DISCOVERY_K8S_INVALID_SLICE: 'an EndpointSlice could not be used; its last good version is kept',
  E_DISCOVERY_NAMERD_HTTP: 'namerd could not be reached or answered with an error status',
  E_DISCOVERY_NAMERD_FAILED: 'namerd answered that the name failed to resolve, or sent an unreadable answer',
} as const

export type DiscoveryErrorCode = keyof typeof DISCOVERY_ERROR_CODES
