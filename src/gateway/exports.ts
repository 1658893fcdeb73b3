/**
 * What the gateway lets through: callers of the trust domains it is configured with, whose
 * certificate chains to that domain's own CA (TLS only knows it chains to one of them), to the
 * services it exports, each with its own allow list and mode. Everything else is refused with
 * a code (the gateway is never an open relay). Also builds the exports answer a caller may read.
 */
import type { X509Certificate } from 'node:crypto'
import type { GatewayExportConfig } from '../config/types.js'
import { chainLeadsTo } from '../../core/identity/chain.js'
import { MeshError } from '../../core/errors.js'
import { identityAllowed, trustDomainOf } from '../../core/identity/spiffe.js'
import type { ExportsDocument } from '../multicluster/wire.js'

/** How a stream wants to cross: an end-to-end tunnel, or a stream the gateway terminates. */
export type CrossingMode = 'e2e' | 'terminate'

export class ExportTable {
  /** Each accepted trust domain's roots (gateway.trustDomains.<domain>.ca). */
  readonly #domains: Map<string, readonly X509Certificate[]>
  readonly #exports: Readonly<Record<string, GatewayExportConfig>>
  /** Verdicts per session: a transport hands every stream of a session the same array. */
  #chains = new WeakMap<readonly Uint8Array[], boolean>()

  constructor (trustDomains: ReadonlyMap<string, readonly X509Certificate[]>, exports: Readonly<Record<string, GatewayExportConfig>>) {
    this.#domains = new Map(trustDomains)
    this.#exports = exports
  }

  /** The roots of every trust domain now (the listeners' TLS bundle is made of them). */
  get roots (): ReadonlyMap<string, readonly X509Certificate[]> {
    return this.#domains
  }

  /**
   * Replaces a listed domain's roots (its CA file changed). The verdicts kept per session are
   * dropped: the next stream of every session is checked against the roots in use now, so a
   * caller of a CA that was removed is refused on sessions already up too.
   */
  setRoots (domain: string, roots: readonly X509Certificate[]): void {
    if (!this.#domains.has(domain)) throw new Error(`${domain} is not one of gateway.trustDomains`)
    this.#domains.set(domain, roots)
    this.#chains = new WeakMap()
  }

  /**
   * The caller's trust domain when the gateway accepts it: listed in gateway.trustDomains
   * (else E_GATEWAY_UNTRUSTED_DOMAIN), and `certificates` (the caller's chain, DER, leaf first)
   * lead to that domain's CA (else E_GATEWAY_DOMAIN_MISMATCH: signed by another domain's CA).
   */
  checkCaller (caller: string, certificates: readonly Uint8Array[]): string {
    const domain = trustDomainOf(caller)
    const roots = domain === undefined ? undefined : this.#domains.get(domain)
    if (domain === undefined || roots === undefined) {
      throw new MeshError('E_GATEWAY_UNTRUSTED_DOMAIN', `caller ${caller} is of trust domain ${domain ?? '(none)'}, not one of gateway.trustDomains (${[...this.#domains.keys()].join(', ')})`)
    }
    let verdict = this.#chains.get(certificates)
    if (verdict === undefined) {
      verdict = chainLeadsTo(certificates, roots)
      this.#chains.set(certificates, verdict)
    }
    if (!verdict) {
      throw new MeshError('E_GATEWAY_DOMAIN_MISMATCH', `caller ${caller} names trust domain ${domain}, but its certificate does not chain to gateway.trustDomains.${domain}.ca`)
    }
    return domain
  }

  /** Whether `service` is exported (metrics label services by name only when it is). */
  exported (service: string): boolean {
    return Object.hasOwn(this.#exports, service)
  }

  /**
   * Checks one stream: caller's trust domain and its CA, service exported, caller allowed, mode. Throws
   * E_GATEWAY_UNTRUSTED_DOMAIN, E_GATEWAY_DOMAIN_MISMATCH, E_GATEWAY_NOT_EXPORTED, E_GATEWAY_FORBIDDEN or E_GATEWAY_MODE.
   */
  authorize (caller: string, certificates: readonly Uint8Array[], service: string | undefined, mode: CrossingMode): GatewayExportConfig {
    this.checkCaller(caller, certificates)
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
  document (caller: string, certificates: readonly Uint8Array[], identitiesOf: (service: string) => string[]): ExportsDocument {
    this.checkCaller(caller, certificates)
    const doc: ExportsDocument = { services: {} }
    for (const [name, config] of Object.entries(this.#exports)) {
      if (!identityAllowed(caller, config.allow)) continue
      doc.services[name] = { mode: config.mode, identities: identitiesOf(name) }
    }
    return doc
  }
}
