/**
 * What the gateway lets through: callers of the trust domains it is configured with, to the
 * services it exports, each with its own allow list and mode. Everything else is refused with
 * a code (the gateway is never an open relay). Also builds the exports answer a caller may read.
 */
import type { GatewayExportConfig } from '../config/types.js'
import { MeshError } from '../../core/errors.js'
import { identityAllowed, trustDomainOf } from '../../core/identity/spiffe.js'
import type { ExportsDocument } from '../multicluster/wire.js'

/** How a stream wants to cross: an end-to-end tunnel, or a stream the gateway terminates. */
export type CrossingMode = 'e2e' | 'terminate'

export class ExportTable {
  readonly #domains: ReadonlySet<string>
  readonly #exports: Readonly<Record<string, GatewayExportConfig>>

  constructor (trustDomains: Iterable<string>, exports: Readonly<Record<string, GatewayExportConfig>>) {
    this.#domains = new Set(trustDomains)
    this.#exports = exports
  }

  /** The caller's trust domain when the gateway accepts it; else E_GATEWAY_UNTRUSTED_DOMAIN. */
  checkCaller (caller: string): string {
    const domain = trustDomainOf(caller)
    if (domain === undefined || !this.#domains.has(domain)) {
      throw new MeshError('E_GATEWAY_UNTRUSTED_DOMAIN', `caller ${caller} is of trust domain ${domain ?? '(none)'}, not one of gateway.trustDomains (${[...this.#domains].join(', ')})`)
    }
    return domain
  }

  /** Whether `service` is exported (metrics label services by name only when it is). */
  exported (service: string): boolean {
    return Object.hasOwn(this.#exports, service)
  }

  /**
   * Checks one stream: caller's trust domain, service exported, caller allowed, mode. Throws
   * E_GATEWAY_UNTRUSTED_DOMAIN, E_GATEWAY_NOT_EXPORTED, E_GATEWAY_FORBIDDEN or E_GATEWAY_MODE.
   */
  authorize (caller: string, service: string | undefined, mode: CrossingMode): GatewayExportConfig {
    this.checkCaller(caller)
    if (service === undefined || !this.exported(service)) {
      throw new MeshError('E_GATEWAY_NOT_EXPORTED', `the gateway does not export ${service ?? '(no service named)'}`)
    }
    const config = this.#exports[service]
    if (!identityAllowed(caller, config.allow)) throw new MeshError('E_GATEWAY_FORBIDDEN', `caller ${caller} is not allowed to reach the exported service ${service}`)
    if (config.mode !== mode) {
      throw new MeshError('E_GATEWAY_MODE', config.mode === 'e2e'
        ? `${service} is exported end to end: open a CONNECT tunnel with meshgate-gateway-mode: e2e`
        : `${service} is exported in terminate mode: send plain streams with meshgate-gateway-service`)
    }
    return config
  }

  /** The exports this caller may use, with the identities of their endpoints now. */
  document (caller: string, identitiesOf: (service: string) => string[]): ExportsDocument {
    this.checkCaller(caller)
    const doc: ExportsDocument = { services: {} }
    for (const [name, config] of Object.entries(this.#exports)) {
      if (!identityAllowed(caller, config.allow)) continue
      doc.services[name] = { mode: config.mode, identities: identitiesOf(name) }
    }
    return doc
  }
}
