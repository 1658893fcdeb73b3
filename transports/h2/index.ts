// The h2 transport: HTTP/2 over mutual TLS 1.3 (RFC 9113), as a two-step factory.
import type { Transport, TransportFactory } from '../contract.js'
import { resolveH2Options, type H2Options } from './options.js'

export { H2_DEFAULTS, type H2Options } from './options.js'

/**
 * `h2Transport(options)(components)` builds the `h2` transport. Options are checked at once
 * (E_CONFIG on a bad value); defaults are in {@link H2_DEFAULTS}.
 */
export function h2Transport (options: H2Options = {}): TransportFactory {
  const config = resolveH2Options(options)
  return (components): Transport => ({
    name: 'h2',
    // The client and the server side are loaded on first use: a sidecar role needs only one of them.
    connect: async (connectOptions) => await (await import('./connect.js')).connectH2(connectOptions, config, components),
    listen: async (listenOptions, handlers) => await (await import('./listener.js')).listenH2(listenOptions, handlers, config, components),
  })
}
