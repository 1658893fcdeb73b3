/**
 * The one loader of the native h2 engine addon (native/engine/build/Release/meshgate_engine.node):
 * HTTP/2 peer sessions over mutual TLS framed by libnghttp2 and encrypted by GnuTLS, with
 * CONNECT streams spliced to sockets natively. Its binding has the shape of the QUIC addon's
 * (native/index.ts), so native/quic.ts's session layer drives both. Nothing else loads the file.
 */
import { createRequire } from 'node:module'
import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { EmitFn, RawEndpoint, RawEndpointOptions } from './index.js'

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

const ADDON = 'meshgate_engine.node'
let cached: EngineBinding | undefined
let failure: Error | undefined

function candidates (): string[] {
  const here = dirname(fileURLToPath(import.meta.url))
  const roots = [resolve(here, '..', '..'), resolve(here, '..')]
  const paths: string[] = []
  const fromEnv = process.env.MESHGATE_ENGINE_ADDON
  if (fromEnv !== undefined && fromEnv !== '') paths.push(resolve(fromEnv))
  for (const root of roots) {
    for (const kind of ['Release', 'Debug']) paths.push(join(root, 'native', 'engine', 'build', kind, ADDON))
  }
  return [...new Set(paths)]
}

/** Loads the addon once; throws an Error naming every path tried and the install line. */
export function loadEngine (): EngineBinding {
  if (cached !== undefined) return cached
  if (failure !== undefined) throw failure
  const require = createRequire(import.meta.url)
  const tried: string[] = []
  for (const path of candidates()) {
    if (!existsSync(path)) {
      tried.push(`${path} (not found)`)
      continue
    }
    try {
      cached = require(path) as EngineBinding
      return cached
    } catch (err) {
      tried.push(`${path} (${(err as Error).message.split('\n')[0] ?? 'load failed'})`)
    }
  }
  failure = new Error(
    'meshgate native h2 engine is not available. Tried:\n  ' + tried.join('\n  ') +
    `\nTo build it: ${ENGINE_INSTALL_HINT}`
  )
  throw failure
}
