// The original destination of an accepted TCP connection that an iptables REDIRECT sent to this
// process (SO_ORIGINAL_DST, read by the native engine addon), for the transparent outbound listener.
import type { Socket } from 'node:net'
import { originalDstCall, type OriginalDestination } from '../native/original-dst.js'
import { MeshError } from '../core/errors.js'

export type { OriginalDestination }

/** Reads a socket's original destination; undefined when it was not redirected (a direct connect). */
export type OriginalDestinationReader = (socket: Socket) => OriginalDestination | undefined

/**
 * The reader, or MeshError E_ORIGINAL_DST naming why it is not available here (the engine addon
 * is not built or lacks the call), so a listener that needs it fails at start, not per connection.
 */
export function originalDestinationReader (): OriginalDestinationReader {
  let call: (fd: number) => OriginalDestination
  try {
    call = originalDstCall()
  } catch (err) {
    throw new MeshError('E_ORIGINAL_DST', `cannot read SO_ORIGINAL_DST: ${(err as Error).message.split('\n')[0] ?? ''}`, { cause: err })
  }
  return (socket) => {
    const fd = (socket as unknown as { _handle?: { fd?: number } | null })._handle?.fd
    if (typeof fd !== 'number' || fd < 0) throw new MeshError('E_ORIGINAL_DST', 'the accepted socket has no file descriptor')
    try {
      return call(fd)
    } catch (err) {
      // ENOENT: conntrack has no NAT entry for it, i.e. the app connected to the listener directly.
      if ((err as { errno?: number }).errno === 2) return undefined
      throw new MeshError('E_ORIGINAL_DST', `cannot read the original destination: ${(err as Error).message}`, { cause: err })
    }
  }
}
