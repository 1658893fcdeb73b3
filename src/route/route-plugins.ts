/**
 * The Proxy-Wasm plugins of routes (`services.<s>.routes[i].plugins`): one chain per route that
 * has any, loaded when the outbound role starts and closed when it stops. A reload builds new
 * route plans that take the chains loaded at start by service and route name; a change to a
 * route's plugins needs a restart (reload.ts says so).
 */
import type { ServiceConfig } from '../config/types.js'
import { PluginChain, type PluginChainDeps } from '../plugins/plugin-chain.js'

export class RoutePlugins {
  readonly #chains: Map<string, PluginChain>

  private constructor (chains: Map<string, PluginChain>) {
    this.#chains = chains
  }

  /** The chains of every route with plugins, or undefined when no route has any (nothing loaded). */
  static async load (services: Readonly<Record<string, ServiceConfig>>, deps: PluginChainDeps): Promise<RoutePlugins | undefined> {
    const chains = new Map<string, PluginChain>()
    try {
      for (const [service, s] of Object.entries(services)) {
        for (const route of s.routes ?? []) {
          if (route.plugins === undefined || route.plugins.length === 0) continue
          const logger = deps.logger.child({ service, route: route.name })
          chains.set(keyOf(service, route.name), await PluginChain.load(route.plugins, { ...deps, logger }))
        }
      }
    } catch (err) {
      await Promise.all([...chains.values()].map(async (c) => { await c.close() }))
      throw err
    }
    return chains.size === 0 ? undefined : new RoutePlugins(chains)
  }

  chainFor (service: string, route: string): PluginChain | undefined {
    return this.#chains.get(keyOf(service, route))
  }

  async close (): Promise<void> {
    await Promise.all([...this.#chains.values()].map(async (c) => { await c.close() }))
  }
}

function keyOf (service: string, route: string): string {
  return `${service}\u0000${route}`
}
