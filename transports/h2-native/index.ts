// The native h2 transport: HTTP/2 over mutual TLS 1.3 (RFC 9113) framed by libnghttp2 and
// encrypted by GnuTLS inside the meshgate_engine addon (native/engine/), as a two-step factory.
// Same wire protocol and options as transports/h2; the name is `h2`, so only one of the two is
// registered in a process (src/proxy.ts picks it from `dataPlane`).
import { ENGINE_INSTALL_HINT, loadEngine } from '../../native/engine.js'
import type { Transport, TransportFactory } from '../contract.js'
import { resolveH2Options, type H2Options } from '../h2/options.js'
import { createHttpFront } from './http-front.js'

/** Whether the engine addon loads here, and if not why. */
export type H2NativeAvailability =
  | { available: true, versions: { nghttp2: string, gnutls: string, llhttp: string } }
  | { available: false, reason: string, installHint: string }

let availability: H2NativeAvailability | undefined

/** Loads the engine addon (once) and says whether the native data path can run in this process. */
export function h2NativeAvailability (): H2NativeAvailability {
  if (availability !== undefined) return availability
  try {
    availability = { available: true, versions: loadEngine().versions }
  } catch (err) {
    availability = { available: false, reason: (err as Error).message, installHint: ENGINE_INSTALL_HINT }
  }
  return availability
}

/** `h2NativeTransport(options)(components)` builds the native `h2` transport (options as transports/h2). */
export function h2NativeTransport (options: H2Options = {}): TransportFactory {
  const config = resolveH2Options(options)
  return (components): Transport => ({
    name: 'h2',
    connect: async (connectOptions) => await (await import('./connect.js')).connectNativeH2(connectOptions, config, components),
    listen: async (listenOptions, handlers) => await (await import('./listener.js')).listenNativeH2(listenOptions, handlers, config, components),
    httpFront: (frontOptions, handlers) => createHttpFront(frontOptions, handlers, components.observer),
  })
}
