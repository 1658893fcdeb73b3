/**
 * Identity families: seconds until the certificate in use expires (computed at scrape time, so it
 * counts down between rotations), and reloads of the TLS files accepted and refused, per role.
 */
import type { IdentityObserver } from '../identity/observer.js'
import { CounterFamily } from './series.js'
import { Gauge, type Registry } from './prom.js'

export function identityObserver (registry: Registry): IdentityObserver {
  const notAfter = new Map<string, number>()
  // eslint-disable-next-line no-new -- registered on `registry`, read at scrape time through collect()
  new Gauge({
    name: 'meshgate_identity_expiry_seconds',
    help: 'Seconds until the notAfter of the certificate this role presents (negative once expired).',
    labelNames: ['role'],
    registers: [registry],
    collect () {
      const now = Date.now()
      for (const [role, at] of notAfter) this.set({ role }, (at - now) / 1000)
    },
  })
  const reloads = new CounterFamily({
    registry,
    name: 'meshgate_identity_reloads_total',
    help: 'Changed TLS files (certificate, key, CA bundle) put into use, by role.',
    labelNames: ['role'],
  })
  const refused = new CounterFamily({
    registry,
    name: 'meshgate_identity_reloads_refused_total',
    help: 'Changed TLS files refused (the previous identity stays in use), by role and reason.',
    labelNames: ['role', 'reason'],
  })
  return {
    certificate: (role, at) => { notAfter.set(role, at.getTime()) },
    reloaded: (role) => { reloads.cell([role]).value++ },
    refused: (role, kind) => { refused.cell([role, kind]).value++ },
  }
}
