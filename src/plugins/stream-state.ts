/**
 * What the host calls of one context see: its header maps, its body buffers, its properties and
 * a local response it asked for. Kept in the worker apart from the VM instance, so a request
 * outlives a VM restart.
 */
import { BufferType, MapType } from './abi.js'
import type { HeaderPairs } from './header-pairs.js'
import type { LocalResponse, PropertyMap } from './vm-protocol.js'

export class StreamState {
  readonly contextId: number
  readonly properties: PropertyMap
  /** By MapType; undefined until that phase. */
  readonly maps: Array<HeaderPairs | undefined> = [undefined, undefined, undefined, undefined]
  readonly mapChanged: boolean[] = [false, false, false, false]
  /** By BufferType (request body, response body). */
  readonly buffers: Array<Uint8Array | undefined> = [undefined, undefined]
  readonly bufferChanged: boolean[] = [false, false]
  /** Body bytes the plugin held back (any action but Continue), by BufferType; its next call sees them first. */
  readonly held: Uint8Array[] = [new Uint8Array(0), new Uint8Array(0)]
  endOfStream = false
  local: LocalResponse | undefined = undefined

  constructor (contextId: number, properties: PropertyMap) {
    this.contextId = contextId
    this.properties = properties
  }

  /** Forgets the change marks before a callback. */
  beginPhase (): void {
    this.mapChanged.fill(false)
    this.bufferChanged.fill(false)
  }

  map (type: number): HeaderPairs | undefined {
    return type >= MapType.RequestHeaders && type <= MapType.ResponseTrailers ? this.maps[type] : undefined
  }

  setMap (type: number, pairs: HeaderPairs): void {
    this.maps[type] = pairs
    this.mapChanged[type] = true
  }

  body (type: number): Uint8Array | undefined {
    return type === BufferType.RequestBody || type === BufferType.ResponseBody ? this.buffers[type] : undefined
  }

  setBody (type: number, bytes: Uint8Array): void {
    this.buffers[type] = bytes
    this.bufferChanged[type] = true
  }
}
