/**
 * Address and name syntax used in configs: hosts, `host:port`, authorities, SPIFFE IDs.
 */
import { isIPv4, isIPv6 } from 'node:net'

const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?'
const HOSTNAME = new RegExp(`^(?=.{1,253}$)${LABEL}(?:\\.${LABEL})*\\.?$`)

/** A host and a port split out of `host:port` (IPv6 hosts without their brackets). */
export interface HostPort {
  host: string
  port: number
}

/** A hostname, an IPv4 address or an IPv6 address (bare, as listen() takes it). */
export function isHost (value: string): boolean {
  return HOSTNAME.test(value) || isIPv4(value) || isIPv6(value)
}

/**
 * Splits `host:port` (`[::1]:8080` for IPv6). The port must be 1–65535 unless `allowZero`.
 * Returns undefined when the string is not of that shape.
 */
export function parseHostPort (value: string, allowZero = false): HostPort | undefined {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value)
  if (match === null) return undefined
  const host = match[1] ?? match[2]
  if (match[1] !== undefined ? !isIPv6(host) : !isHost(host)) return undefined
  const port = Number(match[3])
  if (port > 65535 || (port === 0 && !allowZero)) return undefined
  return { host, port }
}

/** `host:port`, bracketing IPv6 hosts. */
export function formatHostPort (host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`
}

/** An HTTP authority as a client sends it: `host` or `host:port`. */
export function isAuthority (value: string): boolean {
  return isHost(value) || parseHostPort(value) !== undefined
}

const TRUST_DOMAIN = /^[a-z0-9._-]+$/
const PATH_SEGMENT = /^[A-Za-z0-9._-]+$/

/** A SPIFFE trust domain name: lowercase letters, digits, `.`, `-`, `_`. */
export function isTrustDomain (value: string): boolean {
  return TRUST_DOMAIN.test(value)
}

/** A workload SPIFFE ID: `spiffe://<trust-domain>/<path>` with a non-empty path. */
export function isSpiffeId (value: string): boolean {
  if (!value.startsWith('spiffe://')) return false
  const [domain, ...segments] = value.slice('spiffe://'.length).split('/')
  if (!isTrustDomain(domain) || segments.length === 0) return false
  return segments.every((s) => PATH_SEGMENT.test(s) && s !== '.' && s !== '..')
}

/** An allow-list entry: a SPIFFE ID, a whole trust domain (`spiffe://td`), or `*`. */
export function isAllowEntry (value: string): boolean {
  if (value === '*' || isSpiffeId(value)) return true
  const match = /^spiffe:\/\/([^/]+)\/?$/.exec(value)
  return match !== null && isTrustDomain(match[1])
}

/** True for the any-address hosts `0.0.0.0` and `::`. */
export function isWildcard (host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '::0'
}

/** True when two listeners on one port would clash: the same host, or either one a wildcard. */
export function hostsOverlap (host: string, other: string): boolean {
  return host === other || isWildcard(host) || isWildcard(other)
}

/** True for an address that always means this machine: 127.0.0.0/8, ::1, localhost. */
export function isLoopback (host: string): boolean {
  return host === 'localhost' || host === '::1' || (isIPv4(host) && host.startsWith('127.'))
}
