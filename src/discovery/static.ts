// The `static` source: the endpoints written in the config's `services`, fixed for the process.
import type { EndpointConfig } from '../config/types.js'
import { ConfigError, type ConfigProblem } from '../../core/errors.js'
import { endpointsFromEntries } from './endpoint-shape.js'
import { ServiceFeed } from './feed.js'
import type { DiscoveryObserver } from './observer.js'
import type { DiscoverySource, DiscoveryUpdate } from './types.js'

/** Options of the static source: the config's `services` map (only `endpoints` is read). */
export interface StaticSourceOptions {
  services: Record<string, { endpoints: readonly EndpointConfig[] }>
  /** Name of the config file, for error messages (default `<config>`). */
  file?: string
}

/**
 * Serves each configured service with its endpoints; any other service `doesNotExist`.
 * Throws ConfigError (E_CONFIG) at construction if an entry cannot be used (a bad `peer`).
 */
export class StaticSource implements DiscoverySource {
  readonly name = 'static'
  private readonly feed: ServiceFeed

  constructor (options: StaticSourceOptions, observer?: DiscoveryObserver) {
    this.feed = new ServiceFeed(this.name, observer)
    const problems: ConfigProblem[] = []
    for (const [service, config] of Object.entries(options.services)) {
      this.feed.publish(service, endpointsFromEntries(config.endpoints, `services.${service}.endpoints`, problems))
    }
    if (problems.length > 0) throw new ConfigError(options.file ?? '<config>', problems)
  }

  watch (service: string, onUpdate: (update: DiscoveryUpdate) => void): () => void {
    if (this.feed.current(service) === undefined) this.feed.publish(service, null)
    return this.feed.watch(service, onUpdate)
  }

  async close (): Promise<void> {
    this.feed.close()
  }
}
