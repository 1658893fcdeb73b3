/**
 * The transport registry: one instance per name, built from factories with the core's
 * components. src/ reaches transports only through this (and the contract).
 */
import { MeshError } from '../core/errors.js'
import type { Transport, TransportComponents, TransportFactory } from './contract.js'

export class TransportRegistry {
  readonly #transports = new Map<string, Transport>()
  readonly #components: TransportComponents

  constructor (components: TransportComponents) {
    this.#components = components
  }

  /** Builds and registers a transport; a second one with the same name is refused. */
  add (factory: TransportFactory): Transport {
    const transport = factory(this.#components)
    if (this.#transports.has(transport.name)) {
      throw new MeshError('E_INTERNAL', `transport "${transport.name}" is registered twice`)
    }
    this.#transports.set(transport.name, transport)
    return transport
  }

  /** The transport of that name, or E_TRANSPORT_UNAVAILABLE naming the ones there are. */
  get (name: string): Transport {
    const transport = this.#transports.get(name)
    if (transport === undefined) {
      const known = [...this.#transports.keys()].join(', ') || 'none'
      throw new MeshError('E_TRANSPORT_UNAVAILABLE', `transport "${name}" is not available (available: ${known})`)
    }
    return transport
  }

  has (name: string): boolean {
    return this.#transports.has(name)
  }

  names (): string[] {
    return [...this.#transports.keys()]
  }
}
