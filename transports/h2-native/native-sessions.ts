// Which PeerSessions are the native engine's, and where they live in it (the engine object and
// the connection id): the HTTP/1 front opens its streams there, without JS per request body.
import type { RawEndpoint } from '../../native/index.js'
import type { PeerSession } from '../contract.js'

export interface NativeSessionRef {
  endpoint: RawEndpoint
  conn: number
}

const sessions = new WeakMap<PeerSession, NativeSessionRef>()

export function registerNativeSession (session: PeerSession, ref: NativeSessionRef): void {
  sessions.set(session, ref)
}

export function nativeSessionOf (session: PeerSession): NativeSessionRef | undefined {
  return sessions.get(session)
}
