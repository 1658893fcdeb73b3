/**
 * SPIFFE identities: reading one from a peer certificate and matching one against an allow list.
 */

/** The first `spiffe://` URI SAN of a certificate's subjectaltname string (node:tls form), if any. */
export function spiffeIdFromSubjectAltName (subjectaltname: string | undefined): string | undefined {
  if (subjectaltname === undefined) return undefined
  for (const part of subjectaltname.split(/,\s*/)) {
    if (part.startsWith('URI:spiffe://')) return part.slice(4)
  }
  return undefined
}

/** The trust domain of a SPIFFE ID (`spiffe://td/...` → `td`). */
export function trustDomainOf (id: string): string | undefined {
  const match = /^spiffe:\/\/([^/]+)/.exec(id)
  return match?.[1]
}

/**
 * True if `caller` is allowed by `allow`: an entry equal to the ID, an entry naming its whole
 * trust domain (`spiffe://td`), or `*`.
 */
export function identityAllowed (caller: string, allow: readonly string[]): boolean {
  const domain = trustDomainOf(caller)
  for (const entry of allow) {
    if (entry === '*' || entry === caller) return true
    if (domain !== undefined && (entry === `spiffe://${domain}` || entry === `spiffe://${domain}/`)) return true
  }
  return false
}
