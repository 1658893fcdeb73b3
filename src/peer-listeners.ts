/**
 * The listener loop both the inbound and the gateway roles use: for each configured listener an
 * h2 (TCP) listener and, where h3 is on, an h3 (UDP) one on the same port number, so peers reach
 * either at one address. Port 0 retries a few times when the kernel's free TCP port is taken on
 * UDP. On failure every listener opened so far is destroyed.
 */
import type { Logger } from 'pino'
import type { InboundHandlers, TlsMaterial, TransportListener } from '../transports/contract.js'
import type { TransportRegistry } from '../transports/registry.js'

export interface PeerListenerConfig {
  host: string
  port: number
  h3?: boolean
}

export interface OpenedListener {
  transport: string
  listener: TransportListener
}

/** Opens every listener of `configs`; resolves with them in order, or destroys them all and rejects. */
export async function openPeerListeners (
  transports: TransportRegistry,
  configs: readonly PeerListenerConfig[],
  tls: TlsMaterial,
  handlers: (transport: string) => InboundHandlers,
  logger: Logger,
  what: string
): Promise<OpenedListener[]> {
  const listeners: OpenedListener[] = []
  const listen = async (transport: string, host: string, port: number): Promise<TransportListener> => {
    const listener = await transports.get(transport).listen({ host, port, tls }, handlers(transport))
    listeners.push({ transport, listener })
    logger.info({ transport, ...listener.address() }, `${what} listener ready`)
    return listener
  }
  try {
    for (const l of configs) {
      const withH3 = l.h3 ?? transports.has('h3')
      for (let attempt = 1; ; attempt++) {
        const h2 = await listen('h2', l.host, l.port)
        if (!withH3) break
        try {
          await listen('h3', l.host, h2.address().port)
          break
        } catch (err) {
          // Port 0: the kernel's free TCP port may be taken on UDP; pick another pair.
          if (l.port !== 0 || attempt >= 5) throw err
          listeners.pop()
          h2.destroy()
        }
      }
    }
  } catch (err) {
    for (const l of listeners) l.listener.destroy()
    throw err
  }
  return listeners
}
