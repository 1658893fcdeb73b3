/**
 * One request's pass through a listener's plugins: each phase calls every plugin in order, each
 * seeing what the one before it left. A local response ends the pass. Body chunks a plugin holds
 * back (any action but Continue) are kept in its VM's worker and handed to it again, grown, with
 * the next chunk (so they cross between threads once); the end of the body always lets them go.
 */
import { MeshError } from '../../core/errors.js'
import type { HeaderPairs } from './header-pairs.js'
import type { PluginPass } from './plugin-pass.js'
import type { PluginVm } from './plugin-vm.js'
import type { LocalResponse, PropertyMap, StreamOp, VmCall, VmResult } from './vm-protocol.js'

const EMPTY = new Uint8Array(0)

export interface HeadOutcome {
  headers: HeaderPairs
  /** A plugin answered itself (`proxy_send_local_response`): send this instead. */
  local?: LocalResponse
}

/** One plugin of the chain as this stream uses it. */
interface Member {
  vm: PluginVm
  failOpen: boolean
  contextId: number
  /** The VM generation the context was opened in (-1: not yet). */
  openedIn: number
  /** The VM holds body bytes of this stream back (request, response). */
  holding: [boolean, boolean]
  /** Properties learnt since the context was opened, sent with its next call. */
  learnt: PropertyMap | undefined
}

export class PluginStream implements PluginPass {
  readonly #members: Member[]
  readonly #properties: PropertyMap
  #requestHeaders: HeaderPairs | undefined
  #closed = false

  constructor (members: ReadonlyArray<{ vm: PluginVm, failOpen: boolean }>, properties: PropertyMap) {
    this.#members = members.map(({ vm, failOpen }) => ({ vm, failOpen, contextId: vm.nextContextId(), openedIn: -1, holding: [false, false], learnt: undefined }))
    this.#properties = properties
  }

  async requestHeaders (headers: HeaderPairs, endOfStream: boolean): Promise<HeadOutcome> {
    const outcome = await this.#headers('requestHeaders', headers, endOfStream)
    this.#requestHeaders = outcome.headers
    return outcome
  }

  /**
   * Properties known only later than the stream's start (the route, once the request is routed):
   * plugins read them from their next callback on.
   */
  learn (properties: PropertyMap): void {
    Object.assign(this.#properties, properties)
    for (const m of this.#members) if (m.openedIn >= 0) m.learnt = { ...m.learnt, ...properties }
  }

  async responseHeaders (headers: HeaderPairs, endOfStream: boolean, properties: PropertyMap): Promise<HeadOutcome> {
    Object.assign(this.#properties, properties)
    return await this.#headers('responseHeaders', headers, endOfStream, properties)
  }

  /** The bytes to pass on now (possibly none: held back); a local response is an E_PLUGIN here. */
  async requestBody (chunk: Uint8Array, endOfStream: boolean): Promise<Uint8Array> {
    return await this.#body('requestBody', 0, chunk, endOfStream)
  }

  async responseBody (chunk: Uint8Array, endOfStream: boolean): Promise<Uint8Array> {
    return await this.#body('responseBody', 1, chunk, endOfStream)
  }

  /** `proxy_on_done`, `proxy_on_log`, `proxy_on_delete`; failures are the VM's to count. Once. */
  close (properties: PropertyMap): void {
    if (this.#closed) return
    this.#closed = true
    for (const m of this.#members) {
      if (m.openedIn < 0 || m.vm.disabled) continue
      this.#call(m, 'close', { properties }).catch(() => {})
    }
  }

  async #headers (op: StreamOp, headers: HeaderPairs, endOfStream: boolean, properties?: PropertyMap): Promise<HeadOutcome> {
    let current = headers
    for (const m of this.#members) {
      const result = await this.#call(m, op, { headers: current, endOfStream, properties })
      if (result === undefined) continue
      if (result.headers !== undefined) current = result.headers
      if (result.local !== undefined) return { headers: current, local: result.local }
    }
    return { headers: current }
  }

  async #body (op: StreamOp, which: 0 | 1, chunk: Uint8Array, endOfStream: boolean): Promise<Uint8Array> {
    let current = chunk
    for (const m of this.#members) {
      if (current.length === 0 && !endOfStream) return EMPTY
      // Held-back bytes live in the VM's worker: a replaced worker has lost them.
      if (m.holding[which] && m.openedIn !== m.vm.generation) throw new MeshError('E_PLUGIN', `plugin "${m.vm.name}" was restarted while it held back the body`)
      const result = await this.#call(m, op, { body: current, endOfStream })
      if (result === undefined) continue
      if (result.local !== undefined) throw new MeshError('E_PLUGIN', `plugin "${m.vm.name}" answered locally after the head had gone`)
      m.holding[which] = result.held === true
      if (m.holding[which]) return EMPTY
      current = result.body ?? EMPTY
    }
    return current
  }

  /** One callback of one plugin; undefined when the plugin is disabled and fails open. */
  async #call (m: Member, op: StreamOp, fields: Omit<VmCall, 'type' | 'seq' | 'op' | 'contextId'>): Promise<VmResult | undefined> {
    if (m.vm.disabled && m.failOpen) return undefined
    const request: Omit<VmCall, 'type' | 'seq'> = { ...fields, op, contextId: m.contextId }
    const open = { properties: this.#properties, requestHeaders: this.#requestHeaders }
    if (m.learnt !== undefined) {
      request.properties = { ...m.learnt, ...fields.properties }
      m.learnt = undefined
    }
    if (m.openedIn !== m.vm.generation) {
      // First call, or the VM's worker was replaced since: the new one must learn the stream.
      request.open = open
      m.openedIn = m.vm.generation
    }
    return await m.vm.call(request, open)
  }
}
