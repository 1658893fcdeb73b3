/**
 * The inbound side's targets: the only workload addresses it delivers to (never an open relay),
 * each with the identities allowed to reach it.
 */
import type { InboundTargetConfig, TargetProtocol } from '../config/types.js'
import { MeshError } from '../../core/errors.js'
import { identityAllowed } from '../../core/identity/spiffe.js'

export class TargetTable {
  readonly #byAddress = new Map<string, InboundTargetConfig>()
  #lastAddress: string | undefined = undefined
  #lastCaller = ''
  #lastKind: 'http' | 'tcp' = 'http'
  #lastTarget: InboundTargetConfig | undefined = undefined

  readonly #httpAddresses: readonly string[]

  constructor (targets: readonly InboundTargetConfig[]) {
    for (const target of targets) this.#byAddress.set(target.address.toLowerCase(), target)
    this.#httpAddresses = Object.freeze([...this.#byAddress.values()].filter((t) => t.protocol !== 'tcp').map((t) => t.address))
  }

  /** The addresses of the targets that take HTTP (as configured); the table never changes, nor does this. */
  httpAddresses (): readonly string[] {
    return this.#httpAddresses
  }

  /**
   * The target at `address` if `caller` may use it for `kind` traffic; otherwise throws
   * E_TARGET_NOT_ALLOWED (not configured, or wrong kind) or E_FORBIDDEN (caller not allowed).
   */
  authorize (address: string | undefined, caller: string, kind: 'http' | 'tcp'): InboundTargetConfig {
    // Most requests repeat the last allowed (address, caller, kind): no parsing of the caller's
    // SPIFFE ID for them. Only allowed answers are remembered; refusals take the full path.
    if (this.#lastTarget !== undefined && address === this.#lastAddress && caller === this.#lastCaller && kind === this.#lastKind) return this.#lastTarget
    const target = this.#authorize(address, caller, kind)
    this.#lastAddress = address
    this.#lastCaller = caller
    this.#lastKind = kind
    this.#lastTarget = target
    return target
  }

  #authorize (address: string | undefined, caller: string, kind: 'http' | 'tcp'): InboundTargetConfig {
    if (address === undefined || address === '') throw new MeshError('E_TARGET_NOT_ALLOWED', 'the request names no target (meshgate-target)')
    const target = this.#byAddress.get(address.toLowerCase())
    if (target === undefined) throw new MeshError('E_TARGET_NOT_ALLOWED', `target ${address} is not configured on this inbound side`)
    if (kind === 'tcp' && target.protocol !== 'tcp' && target.protocol !== 'auto') {
      throw new MeshError('E_TARGET_NOT_ALLOWED', `target ${address} takes ${target.protocol}, not TCP tunnels`)
    }
    if (kind === 'http' && target.protocol === 'tcp') throw new MeshError('E_TARGET_NOT_ALLOWED', `target ${address} takes TCP tunnels only`)
    if (!identityAllowed(caller, target.allow)) throw new MeshError('E_FORBIDDEN', `caller ${caller} is not allowed to reach ${address}`)
    return target
  }
}

/** The protocol to speak to a target: fixed by config, or the one the app used (`auto`). */
export function deliveryProtocol (target: InboundTargetConfig, origProto: string | undefined): Exclude<TargetProtocol, 'tcp'> {
  if (target.protocol === 'http1' || target.protocol === 'http2') return target.protocol
  return origProto?.toUpperCase() === 'HTTP/1.1' ? 'http1' : 'http2'
}
