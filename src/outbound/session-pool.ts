/**
 * Peer sessions pooled per peer (transport, address, expected identity): one session carries many
 * streams; a new one opens when every pooled session is unavailable (stream limit, GOAWAY,
 * closed). Connect failures back off per peer (doubling, capped), so a dead peer is not dialled
 * for every request; during the backoff the last failure is returned at once.
 */
import type { PeerAddress, PeerSession, TlsMaterial, Transport } from '../../transports/contract.js'
import { toMeshError, type MeshError } from '../errors.js'

export interface SessionPoolOptions {
  tls: TlsMaterial
  /** Connect + handshake bound, ms. */
  connectTimeoutMs: number
  /** First backoff after a failed connect, ms (default 100 ms). */
  backoffMinMs?: number
  /** Backoff cap, ms (default 2 s). */
  backoffMaxMs?: number
}

interface PeerEntry {
  sessions: PeerSession[]
  connecting: Promise<PeerSession> | undefined
  failures: number
  retryAt: number
  lastError: MeshError | undefined
}

export class SessionPool {
  readonly #entries = new Map<string, PeerEntry>()
  readonly #options: Required<SessionPoolOptions>
  #closed = false

  constructor (options: SessionPoolOptions) {
    this.#options = { backoffMinMs: 100, backoffMaxMs: 2000, ...options }
  }

  /** An available session to that peer, connecting one if needed. Rejects with a MeshError. */
  async get (transport: Transport, address: PeerAddress, identity: string): Promise<PeerSession> {
    if (this.#closed) throw toMeshError(new Error('session pool is closed'), 'E_DRAINING')
    const key = `${transport.name}|${address.host}|${address.port}|${identity}`
    let entry = this.#entries.get(key)
    if (entry === undefined) {
      entry = { sessions: [], connecting: undefined, failures: 0, retryAt: 0, lastError: undefined }
      this.#entries.set(key, entry)
    }
    for (const session of entry.sessions) {
      if (session.available) return session
    }
    if (entry.connecting !== undefined) return await entry.connecting
    if (entry.lastError !== undefined && Date.now() < entry.retryAt) throw entry.lastError
    entry.connecting = this.#connect(entry, transport, address, identity)
    try {
      return await entry.connecting
    } finally {
      entry.connecting = undefined
    }
  }

  async #connect (entry: PeerEntry, transport: Transport, address: PeerAddress, identity: string): Promise<PeerSession> {
    try {
      const session = await transport.connect({
        address, expectedIdentity: identity, tls: this.#options.tls, connectTimeoutMs: this.#options.connectTimeoutMs,
      })
      entry.failures = 0
      entry.lastError = undefined
      entry.sessions.push(session)
      session.onClose(() => {
        const idx = entry.sessions.indexOf(session)
        if (idx >= 0) entry.sessions.splice(idx, 1)
      })
      if (this.#closed) session.close().catch(() => {})
      return session
    } catch (err) {
      const meshErr = toMeshError(err, 'E_PEER_UNREACHABLE')
      entry.failures++
      const backoff = Math.min(this.#options.backoffMaxMs, this.#options.backoffMinMs * 2 ** (entry.failures - 1))
      entry.retryAt = Date.now() + backoff
      entry.lastError = meshErr
      throw meshErr
    }
  }

  /** Every open session (for stats). */
  sessions (): PeerSession[] {
    return [...this.#entries.values()].flatMap((e) => e.sessions)
  }

  /** Graceful: GOAWAY on every session, resolves when their streams are done. */
  async close (): Promise<void> {
    this.#closed = true
    await Promise.allSettled(this.sessions().map(async (s) => await s.close()))
  }

  destroy (): void {
    this.#closed = true
    for (const s of this.sessions()) s.destroy()
  }
}
