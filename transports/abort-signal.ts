/**
 * An AbortSignalLike that is a plain object, for signals made once per request: an inbound
 * exchange's (its stream closed early) and the core's outbound request (client gone, request
 * timeout). Why not an AbortController: it is an EventTarget, and making one plus adding and
 * removing a listener cost as much as a good part of a proxied request, for a signal that almost
 * never fires. undici and node:http2 take it as a `signal` too (they check for addEventListener).
 * Beside the contract that defines the shape, so that transports and the core share one.
 */
import type { AbortListener, AbortSignalLike } from './contract.js'

export class LightAbortSignal implements AbortSignalLike {
  #aborted = false
  #reason: unknown = undefined
  /** One listener needs no array; more (rare) go to `#more`. */
  #first: AbortListener | undefined = undefined
  #more: AbortListener[] | undefined = undefined

  get aborted (): boolean { return this.#aborted }
  get reason (): unknown { return this.#reason }

  /** As EventTarget: a listener added after the abort is never called. Every listener is called once. */
  addEventListener (_type: 'abort', listener: AbortListener): void {
    if (this.#aborted) return
    if (this.#first === undefined) this.#first = listener
    else (this.#more ??= []).push(listener)
  }

  removeEventListener (_type: 'abort', listener: AbortListener): void {
    if (this.#first === listener) {
      this.#first = this.#more?.shift()
      return
    }
    const index = this.#more?.indexOf(listener) ?? -1
    if (index >= 0) this.#more?.splice(index, 1)
  }

  /** Aborts once with `reason`; later calls do nothing. A listener that throws does not stop the others. */
  abort (reason: Error): void {
    if (this.#aborted) return
    this.#aborted = true
    this.#reason = reason
    const listeners = this.#first === undefined ? [] : [this.#first, ...(this.#more ?? [])]
    this.#first = undefined
    this.#more = undefined
    for (const listener of listeners) {
      try {
        if (typeof listener === 'function') listener()
        else listener.handleEvent()
      } catch (err) {
        // As EventTarget does: the error is reported, the other listeners still run.
        process.nextTick(() => { throw err })
      }
    }
  }
}
