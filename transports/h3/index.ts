// The h3 transport: HTTP/3 over QUIC (RFC 9114, RFC 9000) with mutual TLS, as a two-step factory.
import { spawnSync } from 'node:child_process'
import { QUIC_APT_PACKAGES, QUIC_INSTALL_HINT, loadQuic } from '../../native/index.js'
import type { Transport, TransportFactory } from '../contract.js'
import { resolveH3Options, type H3Options } from './options.js'

export { H3_DEFAULTS, type H3Options, type H3CongestionControl } from './options.js'
export { bufferShortfall, grantedUdpBuffers, type BufferShortfall, type UdpBufferSizes } from './udp-buffers.js'
export type { H3Listener } from './listener.js'

/** Whether the QUIC addon loads here, and if not why and what to install. */
export type H3Availability =
  | { available: true, versions: { ngtcp2: string, nghttp3: string, gnutls: string } }
  | {
    available: false
    /** The loader's error: every path it tried. */
    reason: string
    /** The apt packages pkg-config cannot find here (empty: installed, only the build is missing). */
    missingPackages: readonly string[]
    installHint: string
  }

/** pkg-config module → the Debian package that ships it (as native/build.mjs checks them). */
const LIBRARY_PACKAGES: Readonly<Record<string, string>> = {
  libngtcp2: 'libngtcp2-dev',
  libngtcp2_crypto_gnutls: 'libngtcp2-crypto-gnutls-dev',
  libnghttp3: 'libnghttp3-dev',
  gnutls: 'libgnutls28-dev',
}

/** The build packages this machine lacks, by asking pkg-config (start-up path only). */
function missingPackages (): string[] {
  const probe = spawnSync('pkg-config', ['--version'], { stdio: 'ignore' })
  if (probe.error !== undefined || probe.status !== 0) return [...QUIC_APT_PACKAGES]
  return Object.entries(LIBRARY_PACKAGES)
    .filter(([module]) => spawnSync('pkg-config', ['--exists', module], { stdio: 'ignore' }).status !== 0)
    .map(([, pkg]) => pkg)
}

let availability: H3Availability | undefined

/** Every apt package the QUIC addon builds against (native/index.ts keeps the list). */
export function h3AptPackages (): readonly string[] {
  return QUIC_APT_PACKAGES
}

/** Loads the addon (once) through native/'s loader and says whether h3 can run in this process. */
export function h3Availability (): H3Availability {
  if (availability !== undefined) return availability
  try {
    availability = { available: true, versions: loadQuic().versions }
  } catch (err) {
    availability = { available: false, reason: (err as Error).message, missingPackages: missingPackages(), installHint: QUIC_INSTALL_HINT }
  }
  return availability
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
    // The client and the server side are loaded on first use: a sidecar role needs only one of them.
    connect: async (connectOptions) => await (await import('./connect.js')).connectH3(connectOptions, config, components),
    listen: async (listenOptions, handlers) => await (await import('./listener.js')).listenH3(listenOptions, handlers, config, components),
  })
}
