/** The interop peers by name, in matrix order. */
import type { PeerDefinition } from '../types.js'
import { chromiumPeer } from './chromium.js'
import { curlPeer } from './curl.js'
import { nghttpPeer } from './nghttp.js'
import { ngtcp2Peer } from './ngtcp2.js'
import { quicGoPeer } from './quic-go.js'

export const PEERS: readonly PeerDefinition[] = [ngtcp2Peer, quicGoPeer, chromiumPeer, curlPeer, nghttpPeer]

export function peerNamed (name: string): PeerDefinition | undefined {
  return PEERS.find(p => p.name === name)
}
