// Parses `host:port` (IPv6 in brackets) and renders addresses back; shared by every source.
import type { PeerAddress } from '../../transports/contract.js'

/** `host:port` → PeerAddress, or undefined when malformed. `[::1]:443` yields host `::1`. */
export function parseHostPort (text: string): PeerAddress | undefined {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]/]+)):(\d{1,5})$/.exec(text)
  if (match === null) return undefined
  const port = Number(match[3])
  if (port < 1 || port > 65535) return undefined
  return { host: (match[1] ?? match[2]) as string, port }
}

/** PeerAddress → `host:port`, bracketing IPv6 literals. */
export function formatHostPort (host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}
