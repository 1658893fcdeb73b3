/**
 * SO_ORIGINAL_DST through the engine addon (native/engine/src/original-dst.cc): where a connection
 * that an iptables REDIRECT sent to us was going. Loaded through native/engine.ts, the one loader.
 */
import { loadEngine } from './engine.js'

export interface OriginalDestination { host: string, port: number }

type OriginalDstFn = (fd: number) => OriginalDestination

/**
 * The native call, or an Error saying why it is not there (the addon did not load, or was built
 * before it had the call).
 */
export function originalDstCall (): OriginalDstFn {
  const binding = loadEngine() as unknown as { originalDst?: OriginalDstFn }
  if (typeof binding.originalDst !== 'function') {
    throw new Error('the native engine addon has no originalDst(): rebuild it (npm run native:build)')
  }
  return binding.originalDst
}
