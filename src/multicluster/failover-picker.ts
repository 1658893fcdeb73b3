/**
 * Failover to a remote cluster: a service with `failover: <cluster>` is picked from its own
 * endpoints while any of them is in rotation, and from the remote cluster's export of it
 * (`<service>@<cluster>` in the directory) while every local endpoint is ejected or none exists.
 * Failure accrual probes ejected endpoints back in after their backoff, and the first one back
 * brings the traffic home.
 */
import type { Logger } from 'pino'
import type { AbortSignalLike, Pick, PickKind } from '../balance/types.js'
import type { ServiceDirectory } from '../discovery/directory.js'
import type { EndpointPicker } from '../outbound/endpoint-picker.js'

/** Reports a move of a service's traffic (the `meshgate_remote_cluster_failovers_total` counter). */
export type FailoverHook = (service: string, cluster: string, to: 'remote' | 'local') => void

export class FailoverPicker implements EndpointPicker {
  readonly #directory: ServiceDirectory
  /** service → cluster it fails over to */
  readonly #failover: ReadonlyMap<string, string>
  readonly #onMove: FailoverHook
  readonly #logger: Logger
  /** Services currently sent to their remote cluster. */
  readonly #away = new Set<string>()

  constructor (directory: ServiceDirectory, failover: ReadonlyMap<string, string>, onMove: FailoverHook, logger: Logger) {
    this.#directory = directory
    this.#failover = failover
    this.#onMove = onMove
    this.#logger = logger
  }

  async pick (service: string, kind: PickKind, signal?: AbortSignalLike): Promise<Pick> {
    return await this.#directory.pick(this.#route(service), kind, signal)
  }

  tryPick (service: string, kind: PickKind): Pick | undefined {
    return this.#directory.tryPick(this.#route(service), kind)
  }

  /** Whether the service's traffic goes to its remote cluster now. */
  failedOver (service: string): boolean {
    return this.#away.has(service)
  }

  /** The directory name to pick from: the service, or its remote twin while no local endpoint is in rotation. */
  #route (service: string): string {
    const cluster = this.#failover.get(service)
    if (cluster === undefined) return service
    const down = this.#localDown(service)
    const away = this.#away.has(service)
    if (down !== away) {
      if (down) this.#away.add(service)
      else this.#away.delete(service)
      const to = down ? 'remote' : 'local'
      this.#onMove(service, cluster, to)
      this.#logger.warn({ service, cluster, to }, down ? 'every local endpoint is out of rotation: failing over to the remote cluster' : 'local endpoints are back: traffic returns from the remote cluster')
    }
    return down ? `${service}@${cluster}` : service
  }

  #localDown (service: string): boolean {
    const status = this.#directory.status(service)
    if (status === 'pending' || status === undefined) return false
    if (status === 'missing') return true
    const counts = this.#directory.balancer(service)?.counts()
    return counts === undefined || counts.ready + counts.probing === 0
  }
}

/**
 * The outbound role's picker for these services: the directory itself, or a FailoverPicker over
 * it when some service names a `failover` cluster.
 */
export function pickerFor (
  services: Readonly<Record<string, { failover?: string }>>,
  directory: ServiceDirectory,
  metrics: { failover: FailoverHook } | undefined,
  logger: Logger
): EndpointPicker {
  const failover = new Map<string, string>()
  for (const [name, service] of Object.entries(services)) if (service.failover !== undefined) failover.set(name, service.failover)
  if (failover.size === 0) return directory
  const onMove: FailoverHook = metrics === undefined ? () => {} : (service, cluster, to) => metrics.failover(service, cluster, to)
  return new FailoverPicker(directory, failover, onMove, logger.child({ component: 'failover' }))
}
