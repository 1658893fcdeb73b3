/**
 * What every stream through the gateway shares, assembled once by the role: the export table,
 * the local directory (discovery + balancers), the pool of sessions to local inbounds (under
 * the gateway's own identity, terminate mode), timeouts, telemetry and the gateway's metrics.
 */
import type { Logger } from 'pino'
import type { Timeouts } from '../config/types.js'
import type { EndpointPicker } from '../outbound/endpoint-picker.js'
import type { TransportSelector } from '../outbound/transport-selector.js'
import type { Telemetry } from '../telemetry.js'
import type { ExportTable } from './exports.js'

/** The gateway's own counters (src/metrics/gateway-metrics.ts binds them). */
export interface GatewayObserver {
  /**
   * One stream decided: `service` is the exported name or `other`, `kind` what it was, `result`
   * `ok` or the refusal's code.
   */
  stream: (service: string, mode: string, kind: 'request' | 'tunnel' | 'exports', result: string, callerDomain: string) => void
  /** Bytes a tunnel moved through the gateway, each way, when it closed. */
  tunnelBytes: (service: string, mode: string, fromCaller: number, toCaller: number) => void
}

export const noopGatewayObserver: GatewayObserver = { stream: () => {}, tunnelBytes: () => {} }

export interface GatewayContext {
  table: ExportTable
  picker: EndpointPicker
  /** Sessions to this cluster's inbounds under the gateway's identity (terminate mode). */
  selector: TransportSelector
  /** The identities an exported service's endpoints present now (for the exports answer). */
  identitiesOf: (service: string) => string[]
  timeouts: Timeouts
  telemetry: Telemetry
  observer: GatewayObserver
  logger: Logger
  /** This gateway's identity (the caller the local inbounds see in terminate mode). */
  identity: string
}
