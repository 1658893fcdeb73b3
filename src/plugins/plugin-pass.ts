/**
 * What an exchange does with the plugins once its request head has been through them: the body
 * phases, the response head and the end. One chain's PluginStream is one; a request matched to a
 * route with plugins of its own joins the listener's stream and the route's (JoinedPass): the
 * request body goes through the listener's plugins, then the route's; the response head and body
 * come back through the route's first, then the listener's (the route's plugins sit nearer the
 * peer, as in Envoy's filter chains); the end reaches both.
 */
import type { HeadOutcome } from './plugin-stream.js'
import type { HeaderPairs } from './header-pairs.js'
import type { PropertyMap } from './vm-protocol.js'

export interface PluginPass {
  /** Properties known once the request is routed (the route's name): see PluginStream.learn. */
  learn: (properties: PropertyMap) => void
  requestBody: (chunk: Uint8Array, endOfStream: boolean) => Promise<Uint8Array>
  responseHeaders: (headers: HeaderPairs, endOfStream: boolean, properties: PropertyMap) => Promise<HeadOutcome>
  responseBody: (chunk: Uint8Array, endOfStream: boolean) => Promise<Uint8Array>
  close: (properties: PropertyMap) => void
}

const EMPTY = new Uint8Array(0)

/** `outer` (the listener's) around `inner` (the route's). */
export class JoinedPass implements PluginPass {
  readonly #outer: PluginPass
  readonly #inner: PluginPass

  constructor (outer: PluginPass, inner: PluginPass) {
    this.#outer = outer
    this.#inner = inner
  }

  learn (properties: PropertyMap): void {
    this.#outer.learn(properties)
    this.#inner.learn(properties)
  }

  async requestBody (chunk: Uint8Array, endOfStream: boolean): Promise<Uint8Array> {
    const passed = await this.#outer.requestBody(chunk, endOfStream)
    // Held back by the outer chain: the inner one sees nothing yet (the end always goes through).
    if (passed.length === 0 && !endOfStream) return EMPTY
    return await this.#inner.requestBody(passed, endOfStream)
  }

  async responseHeaders (headers: HeaderPairs, endOfStream: boolean, properties: PropertyMap): Promise<HeadOutcome> {
    const inner = await this.#inner.responseHeaders(headers, endOfStream, properties)
    if (inner.local !== undefined) return inner
    return await this.#outer.responseHeaders(inner.headers, endOfStream, properties)
  }

  async responseBody (chunk: Uint8Array, endOfStream: boolean): Promise<Uint8Array> {
    const passed = await this.#inner.responseBody(chunk, endOfStream)
    if (passed.length === 0 && !endOfStream) return EMPTY
    return await this.#outer.responseBody(passed, endOfStream)
  }

  close (properties: PropertyMap): void {
    this.#inner.close(properties)
    this.#outer.close(properties)
  }
}
