// The h3 transport: HTTP/3 over QUIC (RFC 9114, RFC 9000) with mutual TLS, as a two-step factory.
import { QUIC_APT_PACKAGES, QUIC_INSTALL_HINT, loadQuic } from '../../native/index.js'
import type { Transport, TransportFactory } from '../contract.js'
import { connectH3 } from './connect.js'
import { listenH3 } from './listener.js'
import { resolveH3Options, type H3Options } from './options.js'

export { H3_DEFAULTS, type H3Options, type H3CongestionControl } from './options.js'
export { bufferShortfall, grantedUdpBuffers, type BufferShortfall, type UdpBufferSizes } from './udp-buffers.js'
export type { H3Listener } from './listener.js'

/** Whether the QUIC addon loads here, and if not why and what to install. */
export type H3Availability =
  | { available: true, versions: { ngtcp2: string, nghttp3: string, gnutls: string } }
  | { available: false, reason: string, aptPackages: readonly string[], installHint: string }

/** Loads the addon (once) through native/'s loader and says whether h3 can run in this process. */
export function h3Availability (): H3Availability {
  try {
    return { available: true, versions: loadQuic().versions }
  } catch (err) {
    return { available: false, reason: (err as Error).message, aptPackages: QUIC_APT_PACKAGES, installHint: QUIC_INSTALL_HINT }
  }
}

/**
 * `h3Transport(options)(components)` builds the `h3` transport. Options are checked at once
 * (E_CONFIG on a bad value); defaults are in {@link H3_DEFAULTS}. Building it does not load the
 * addon: check {@link h3Availability} first, or the first connect/listen fails.
 */
export function h3Transport (options: H3Options = {}): TransportFactory {
  const config = resolveH3Options(options)
  return (components): Transport => ({
    name: 'h3',
    connect: async (connectOptions) => await connectH3(connectOptions, config, components),
    listen: async (listenOptions, handlers) => await listenH3(listenOptions, handlers, config, components),
  })
}
