/**
 * Traffic policy, compiled from a config: per service, the route table (match.ts), each route's
 * weighted backends (services, label subsets, dtab paths), its retry rules and timeouts, and the
 * service's retry budget. An exchange asks `route()` once at its start and keeps the answer, so a
 * reload (a new TrafficPolicy) never changes a request already in flight.
 */
import type { Clock } from '../balance/clock.js'
import type { Random } from '../balance/random.js'
import type { MeshConfig, RetryBudgetConfig, RetryConfig, RouteConfig, ServiceConfig } from '../config/types.js'
import { subsetName } from '../discovery/subset.js'
import { RetryBudget } from './budget.js'
import type { PluginChain } from '../plugins/plugin-chain.js'
import { parseDtab, parsePath, pickService, resolvePath, type Resolved } from './dtab.js'
import { RouteMatcher, type RequestFacts } from './match.js'
import type { RoutePlugins } from './route-plugins.js'

/** Counters a route reports to (metrics). */
export interface RouteObserver {
  /** A retry was sent; `reason` is the condition (5xx, connect-failure, reset, timeout, grpc). */
  retry: (service: string, route: string, reason: string) => void
  /** A retry was wanted but the budget had no room. */
  budgetExhausted: (service: string, route: string) => void
}

export const noopRouteObserver: RouteObserver = { retry: () => {}, budgetExhausted: () => {} }

/** The budget default when a service does not set one: 20 % of requests plus 10/s over 10 s. */
const DEFAULT_BUDGET: RetryBudgetConfig = { ratio: 0.2, minPerSecond: 10, ttlMs: 10_000 }

type Target = { kind: 'name', name: string } | { kind: 'dtab', resolved: Resolved }

/** One route of one service, as an exchange uses it. */
export class RoutePlan {
  readonly service: string
  readonly name: string
  readonly retry: RetryConfig | undefined
  readonly requestMs: number | undefined
  readonly perTryMs: number | undefined
  readonly budget: RetryBudget
  readonly observer: RouteObserver
  /** The route's own plugins (absent: none, and the exchange takes no route plugin step). */
  readonly plugins: PluginChain | undefined
  readonly #targets: Target[]
  readonly #cumulative: number[]
  readonly #total: number
  readonly #random: Random

  constructor (service: string, config: RouteConfig, budget: RetryBudget, dtab: DtabContext | undefined, random: Random, observer: RouteObserver, plugins?: PluginChain) {
    this.service = service
    this.plugins = plugins
    this.name = config.name
    this.retry = config.retry
    this.requestMs = config.timeouts.requestMs
    this.perTryMs = config.timeouts.perTryMs
    this.budget = budget
    this.observer = observer
    this.#random = random
    const backends = config.backends.length === 0 ? [{ weight: 1, service }] : config.backends
    this.#targets = []
    this.#cumulative = []
    let total = 0
    for (const b of backends) {
      if (b.weight <= 0) continue
      total += b.weight
      this.#cumulative.push(total)
      if (b.path !== undefined && dtab !== undefined) this.#targets.push({ kind: 'dtab', resolved: dtab.resolve(b.path) })
      else if (b.subset !== undefined) this.#targets.push({ kind: 'name', name: subsetName(b.service ?? service, b.subset) })
      else this.#targets.push({ kind: 'name', name: b.service ?? service })
    }
    this.#total = total
  }

  /** The directory name (service or subset) one request goes to, by the backends' weights. */
  choose (): string | undefined {
    const targets = this.#targets
    let i = 0
    if (targets.length > 1) {
      const r = this.#random() * this.#total
      while (i < targets.length - 1 && r >= this.#cumulative[i]) i++
    }
    const t = targets[i]
    if (t === undefined) return undefined
    return t.kind === 'name' ? t.name : pickService(t.resolved, this.#random)
  }
}

class DtabContext {
  readonly #dentries
  constructor (text: string, readonly services: Readonly<Record<string, ServiceConfig>>) {
    this.#dentries = parseDtab(text)
  }

  resolve (path: string): Resolved {
    return resolvePath(this.#dentries, parsePath(path), (s) => Object.hasOwn(this.services, s))
  }
}

export interface PolicyComponents {
  clock: Clock
  random?: Random
  observer?: RouteObserver
  /** The policy this one replaces: budgets of services whose budget is unchanged carry over. */
  previous?: TrafficPolicy
  /** The routes' plugin chains, loaded at start (absent: no route has plugins). */
  plugins?: RoutePlugins
}

function sameBudget (a: RetryBudgetConfig, b: RetryBudgetConfig): boolean {
  return a.ratio === b.ratio && a.minPerSecond === b.minPerSecond && a.ttlMs === b.ttlMs
}

export class TrafficPolicy {
  readonly #tables = new Map<string, RouteMatcher<RoutePlan>>()
  readonly #plans = new Map<string, RoutePlan[]>()
  readonly budgets = new Map<string, RetryBudget>()
  /**
   * Some route has what only the JS data path serves (retries, a per-try timeout, plugins): the
   * native h2c front, which cannot hand a stream back, is then not used (native-http.ts).
   */
  readonly needsJsPath: boolean = false

  constructor (config: Pick<MeshConfig, 'services' | 'dtab'>, components: PolicyComponents) {
    const random = components.random ?? Math.random
    const observer = components.observer ?? noopRouteObserver
    const dtab = config.dtab === undefined ? undefined : new DtabContext(config.dtab, config.services)
    for (const [service, s] of Object.entries(config.services)) {
      if (s.routes === undefined || s.routes.length === 0) continue
      const budgetConfig = s.retryBudget ?? DEFAULT_BUDGET
      const old = components.previous?.budgets.get(service)
      const budget = old !== undefined && sameBudget(old, budgetConfig) ? old : new RetryBudget(budgetConfig, components.clock)
      this.budgets.set(service, budget)
      const plans = s.routes.map((r) => new RoutePlan(service, r, budget, dtab, random, observer, components.plugins?.chainFor(service, r.name)))
      this.#plans.set(service, plans)
      if (plans.some((p) => p.plugins !== undefined || p.retry !== undefined || p.perTryMs !== undefined)) this.needsJsPath = true
      this.#tables.set(service, new RouteMatcher(s.routes.map((r, i) => ({ match: r.match, value: plans[i] }))))
    }
  }

  /** The route a request of `service` takes, or undefined (no routes, or none matched: the service as is). */
  route (service: string, facts: RequestFacts): RoutePlan | undefined {
    return this.#tables.get(service)?.match(facts)
  }

  /** Route names per service, for the dashboard. */
  routes (): Record<string, string[]> {
    const out: Record<string, string[]> = {}
    for (const [service, plans] of this.#plans) out[service] = plans.map((p) => p.name)
    return out
  }
}
