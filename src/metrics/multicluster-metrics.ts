/**
 * Families of the multi-cluster hop: per gateway (streams it decided, bytes its tunnels moved)
 * and per remote cluster on the calling side (streams sent there, inner e2e sessions, exports
 * reads, failovers). Cells are cached per label set; label values are config names, error codes
 * or bounded by a LabelGuard.
 */
import type { Registry } from 'prom-client'
import { LabelGuard } from './label-guard.js'
import { CounterFamily, GaugeFamily, type ValueCell } from './series.js'

class Cells {
  readonly #cells = new Map<string, ValueCell>()
  constructor (private readonly family: CounterFamily | GaugeFamily) {}
  get (values: string[]): ValueCell {
    const key = values.join('\u0001')
    let cell = this.#cells.get(key)
    if (cell === undefined) this.#cells.set(key, cell = this.family.cell(values))
    return cell
  }
}

export class MulticlusterMetrics {
  readonly #gatewayStreams: Cells
  readonly #gatewayBytes: Cells
  readonly #remoteStreams: Cells
  readonly #innerSessions: Cells
  readonly #exportsReads: Cells
  readonly #exportedServices: Cells
  readonly #failovers: Cells
  readonly #failedOver: Cells
  readonly #services: LabelGuard
  readonly #domains = new LabelGuard(32)
  readonly #codes = new LabelGuard(64)

  constructor (registry: Registry, services: LabelGuard) {
    this.#services = services
    const counter = (name: string, help: string, labelNames: string[]): Cells => new Cells(new CounterFamily({ registry, name, help, labelNames }))
    const gauge = (name: string, help: string, labelNames: string[]): Cells => new Cells(new GaugeFamily({ registry, name, help, labelNames }))
    this.#gatewayStreams = counter('meshgate_gateway_streams_total',
      'Streams through the gateway, counted when they end (a tunnel when it closes, a refusal at once), by exported service (`other` when not exported), mode, kind (request, tunnel, exports), result (ok or the refusal\'s code) and the caller\'s trust domain.',
      ['service', 'mode', 'kind', 'result', 'caller_domain'])
    this.#gatewayBytes = counter('meshgate_gateway_tunnel_bytes_total',
      'Bytes moved by tunnels through the gateway, by exported service, mode and direction (from_caller, to_caller); in e2e mode these are TLS records the gateway cannot read.',
      ['service', 'mode', 'direction'])
    this.#remoteStreams = counter('meshgate_remote_cluster_streams_total',
      'Streams sent to a remote cluster through its gateway, by cluster, mode and kind (request, tunnel).',
      ['cluster', 'mode', 'kind'])
    this.#innerSessions = counter('meshgate_remote_cluster_inner_sessions_total',
      'End-to-end mTLS sessions opened with a remote cluster\'s inbounds inside gateway tunnels, by cluster and result (ok or an error code).',
      ['cluster', 'result'])
    this.#exportsReads = counter('meshgate_remote_cluster_exports_reads_total',
      'Reads of a remote cluster gateway\'s exports, by cluster and result (ok or an error code).',
      ['cluster', 'result'])
    this.#exportedServices = gauge('meshgate_remote_cluster_exported_services',
      'Services the remote cluster\'s gateway exports to this workload, as last read.',
      ['cluster'])
    this.#failovers = counter('meshgate_remote_cluster_failovers_total',
      'Moves of a service\'s traffic to its failover cluster (to=remote) and back (to=local).',
      ['service', 'cluster', 'to'])
    this.#failedOver = gauge('meshgate_remote_cluster_failed_over',
      '1 while the service\'s traffic goes to its failover cluster, else 0.',
      ['service', 'cluster'])
  }

  /** The gateway role's observer. */
  gateway (): {
    stream: (service: string, mode: string, kind: string, result: string, callerDomain: string) => void
    tunnelBytes: (service: string, mode: string, fromCaller: number, toCaller: number) => void
  } {
    return {
      stream: (service, mode, kind, result, callerDomain) => {
        this.#gatewayStreams.get([service === '' ? '' : this.#services.label(service), mode, kind, this.#codes.label(result), this.#domains.label(callerDomain)]).value++
      },
      tunnelBytes: (service, mode, fromCaller, toCaller) => {
        const s = this.#services.label(service)
        this.#gatewayBytes.get([s, mode, 'from_caller']).value += fromCaller
        this.#gatewayBytes.get([s, mode, 'to_caller']).value += toCaller
      },
    }
  }

  /** The calling side's observer (RemoteClusters). */
  remoteClusters (): {
    innerSession: (cluster: string, result: string) => void
    stream: (cluster: string, mode: string, kind: string) => void
    exportsRead: (cluster: string, result: string, services: number) => void
  } {
    return {
      innerSession: (cluster, result) => { this.#innerSessions.get([cluster, this.#codes.label(result)]).value++ },
      stream: (cluster, mode, kind) => { this.#remoteStreams.get([cluster, mode, kind]).value++ },
      exportsRead: (cluster, result, services) => {
        this.#exportsReads.get([cluster, this.#codes.label(result)]).value++
        if (result === 'ok') this.#exportedServices.get([cluster]).value = services
      },
    }
  }

  /** The FailoverPicker's hook. */
  failover (service: string, cluster: string, to: 'remote' | 'local'): void {
    const s = this.#services.label(service)
    this.#failovers.get([s, cluster, to]).value++
    this.#failedOver.get([s, cluster]).value = to === 'remote' ? 1 : 0
  }
}
