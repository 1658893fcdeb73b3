/**
 * Routing of outbound traffic: an HTTP authority (Host / `:authority`) names a service by its name
 * or one of its aliases, with or without the port; TCP goes to the listener's configured service.
 */
import type { ServiceConfig } from '../config/types.js'
import { splitHostPort } from '../http/headers.js'

export class AuthorityRouter {
  readonly #byAuthority = new Map<string, string>()
  #lastAuthority: string | undefined = undefined
  #lastService: string | undefined = undefined

  constructor (services: Readonly<Record<string, ServiceConfig>>) {
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
    return port === undefined ? undefined : this.#byAuthority.get(host)
  }
}
