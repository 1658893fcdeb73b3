/**
 * Routing of outbound traffic: an HTTP authority (Host / `:authority`) names a service by its name
 * or one of its aliases, with or without the port; TCP goes to the listener's configured service.
 */
import type { ServiceConfig } from '../config/types.js'
import { isIP } from 'node:net'
import { splitHostPort } from '../http/headers.js'

export class AuthorityRouter {
  readonly #byAuthority = new Map<string, string>()
  #lastAuthority: string | undefined = undefined
  #lastService: string | undefined = undefined

  /**
   * `byAddress`, when given, is asked for authorities nothing matched that are an IP:port (a
   * redirected app names the pod or Service address it dialled: `Host: 10.1.2.3:8080`).
   */
  constructor (services: Readonly<Record<string, ServiceConfig>>, private readonly byAddress?: (host: string, port: number) => string | undefined) {
    for (const [name, service] of Object.entries(services)) {
      this.#byAuthority.set(name.toLowerCase(), name)
      for (const alias of service.aliases) this.#byAuthority.set(alias.toLowerCase(), name)
    }
  }

  /** The service an authority routes to: exact match first, then the host without its port. */
  resolve (authority: string): string | undefined {
    // Most requests name the authority the one before did: no lower-casing and hashing for them.
    if (authority === this.#lastAuthority) return this.#lastService
    const service = this.#resolve(authority)
    this.#lastAuthority = authority
    this.#lastService = service
    return service
  }

  #resolve (authority: string): string | undefined {
    const key = authority.toLowerCase()
    const exact = this.#byAuthority.get(key)
    if (exact !== undefined) return exact
    const { host, port } = splitHostPort(key)
    // `Host: 10.96.0.10` is port 80 (plain http is all an outbound listener sees).
    if (port === undefined) return this.byAddress !== undefined && isIP(host) !== 0 ? this.byAddress(host, 80) : undefined
    const byHost = this.#byAuthority.get(host)
    if (byHost !== undefined || this.byAddress === undefined || isIP(host) === 0) return byHost
    return this.byAddress(host, port)
  }

  /** A service by its name or aliases only (no address fallback). */
  resolveAlias (authority: string): string | undefined {
    return this.#byAuthority.get(authority.toLowerCase())
  }
}
