/**
 * What identity rotation reports (src/identity/rotation.ts), so metrics stay out of it: the
 * certificate in use per role, and reloads accepted or refused.
 */

export interface IdentityObserver {
  /** `role` now presents a certificate valid until `notAfter`. */
  certificate: (role: string, notAfter: Date) => void
  /** New files of `role` were put into use. */
  reloaded: (role: string) => void
  /** New files of `role` were refused (`kind`: key_mismatch, expired, untrusted …); the old stay. */
  refused: (role: string, kind: string) => void
}

export const noopIdentityObserver: IdentityObserver = {
  certificate: () => {},
  reloaded: () => {},
  refused: () => {},
}
