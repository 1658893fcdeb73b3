/**
 * The one loader of the native h2 engine addon (native/engine/build/Release/meshgate_engine.node):
 * HTTP/2 peer sessions over mutual TLS framed by libnghttp2 and encrypted by GnuTLS, with
 * CONNECT streams spliced to sockets natively. Its binding has the shape of the QUIC addon's
 * (native/index.ts), so native/quic.ts's session layer drives both. Nothing else loads the file.
 */
import { loadAddon, type EmitFn, type RawEndpoint, type RawEndpointOptions } from './index.js'

/** The apt packages the engine builds against (`native/build.mjs` checks them with pkg-config). */
export const ENGINE_APT_PACKAGES = ['libnghttp2-dev', 'libgnutls28-dev', 'pkg-config'] as const

export const ENGINE_INSTALL_HINT =
  `apt-get install -y ${ENGINE_APT_PACKAGES.join(' ')} g++ make python3 && npm run native:build`

/** Options of one engine: a TCP listener (server) or the client side of outgoing sessions. */
export interface RawEngineOptions extends Omit<RawEndpointOptions, 'cc' | 'recvBufferSize' | 'sendBufferSize' | 'debug'> {
  /** SETTINGS_MAX_HEADER_LIST_SIZE, bytes (default 64 KiB). */
  maxHeaderListBytes?: number
  /** An unanswered PING ends the session after this, ms (default 5 000). */
  keepAliveTimeoutMs?: number
  /** Peer streams before the premature-reset rule applies (default 500). */
  prematureResetMinStreams?: number
}

export interface EngineBinding {
  Engine: new (options: RawEngineOptions, emit: EmitFn) => RawEndpoint
  versions: { nghttp2: string, gnutls: string }
}

let cached: EngineBinding | undefined
let failure: Error | undefined

/** Loads the addon once; throws an Error naming every path tried and the install line. */
export function loadEngine (): EngineBinding {
  if (cached !== undefined) return cached
  if (failure !== undefined) throw failure
  try {
    cached = loadAddon<EngineBinding>({ file: 'meshgate_engine.node', buildDir: 'native/engine/build', envVar: 'MESHGATE_ENGINE_ADDON', what: 'meshgate native h2 engine', installHint: ENGINE_INSTALL_HINT })
    return cached
  } catch (err) {
    failure = err as Error
    throw failure
  }
}
