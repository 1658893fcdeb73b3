/**
 * Peer sessions pooled per peer (transport, address, expected identity): one session carries many
 * streams; a new one opens when every pooled session is unavailable (stream limit, GOAWAY,
 * closed). Connect failures back off per peer (doubling, capped), so a dead peer is not dialled
 * for every request; during the backoff the last failure is returned at once.
 */
import { setMaxListeners } from 'node:events'
import type { PeerAddress, PeerSession, TlsMaterial, Transport } from '../../transports/contract.js'
import { MeshError, toMeshError } from '../../core/errors.js'

/** Dials one get() may wait for or make before giving up (each session adds the peer's stream limit). */
const MAX_DIALS_PER_GET = 8

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
  readonly #claimed = new Map<PeerSession, number>()
  #last: { transport: Transport, address: PeerAddress, identity: string, key: string, entry: PeerEntry } | undefined
  #releaseScheduled = false
  readonly #options: Required<SessionPoolOptions>
  #closed = false
  /** Aborted by destroy(): a dial still in flight (a warm-up's, one to a silent peer) stops holding sockets and timers. */
  readonly #dials = new AbortController()

  constructor (options: SessionPoolOptions) {
    this.#options = { backoffMinMs: 100, backoffMaxMs: 2000, ...options }
    // Every dial in flight listens on it (one per peer being dialled): no leak warning past 10.
    setMaxListeners(0, this.#dials.signal)
  }

  /**
   * Identity rotation: sessions dialled from now on present `tls.cert` and trust `tls.ca`;
   * pooled sessions keep theirs and stay in use until they close.
   */
  setTls (tls: TlsMaterial): void {
    this.#options.tls = tls
  }

  /**
   * An open session to that peer with room for a stream, claimed, without waiting; undefined when
   * get() would have to dial or wait for a dial (or the pool is closed).
   */
  tryGet (transport: Transport, address: PeerAddress, identity: string): PeerSession | undefined {
    if (this.#closed) return undefined
    const entry = this.#entryOf(transport, address, identity)
    if (entry === undefined) return undefined
    for (const session of entry.sessions) {
      if (this.#claim(session)) return session
    }
    return undefined
  }

  /**
   * The entry of a peer. The usual caller asks for the same peer as last time, with the same
   * (discovery's) address object: then no key string is built.
   */
  #entryOf (transport: Transport, address: PeerAddress, identity: string): PeerEntry | undefined {
    const last = this.#last
    if (last !== undefined && last.transport === transport && last.address === address && last.identity === identity && this.#entries.get(last.key) === last.entry) {
      return last.entry
    }
    const key = entryKey(transport, address, identity)
    const entry = this.#entries.get(key)
    if (entry !== undefined) this.#last = { transport, address, identity, key, entry }
    return entry
  }

  /** The peer's entry, made on first use; throws E_DRAINING once the pool is closed. */
  #openEntry (transport: Transport, address: PeerAddress, identity: string): PeerEntry {
    if (this.#closed) throw toMeshError(new Error('session pool is closed'), 'E_DRAINING')
    const key = entryKey(transport, address, identity)
    let entry = this.#entries.get(key)
    if (entry === undefined) {
      entry = { sessions: [], connecting: undefined, failures: 0, retryAt: 0, lastError: undefined }
      this.#entries.set(key, entry)
    }
    return entry
  }

  /** An available session to that peer, connecting one if needed. Rejects with a MeshError. */
  async get (transport: Transport, address: PeerAddress, identity: string): Promise<PeerSession> {
    const entry = this.#openEntry(transport, address, identity)
    // Waiters on a dial re-check afterwards: the new session may already be at the peer's
    // stream limit, and then the next waiter dials another one.
    for (let round = 0; round < MAX_DIALS_PER_GET; round++) {
      for (const session of entry.sessions) {
        if (this.#claim(session)) return session
      }
      if (entry.connecting !== undefined) {
        await entry.connecting.catch(() => {})
        continue
      }
      if (entry.lastError !== undefined && Date.now() < entry.retryAt) throw entry.lastError
      entry.connecting = this.#connect(entry, transport, address, identity)
      try {
        const session = await entry.connecting
        if (this.#claim(session)) return session
      } finally {
        entry.connecting = undefined
      }
    }
    throw new MeshError('E_PEER_REFUSED', `no session to ${address.host}:${address.port} has room for another stream`)
  }

  /**
   * Warm-up (src/outbound/warm-up.ts): a session to that peer, dialled unless one is open or being
   * dialled, without claiming a stream. Unlike get()'s dials, a failed or aborted warm-up dial
   * leaves no backoff behind: a peer that was not up yet when the process started (a pod starting
   * beside it) is dialled afresh by the first request, not refused with the warm-up's error.
   */
  async warm (transport: Transport, address: PeerAddress, identity: string, signal: AbortSignal): Promise<PeerSession> {
    const entry = this.#openEntry(transport, address, identity)
    const open = entry.sessions[0]
    if (open !== undefined) return open
    if (entry.connecting !== undefined) return await entry.connecting
    entry.connecting = this.#connect(entry, transport, address, identity, signal)
    try {
      return await entry.connecting
    } finally {
      entry.connecting = undefined
    }
  }

  /**
   * Takes a stream slot on `session` if it has one. A caller opens its stream a few microtasks
   * after get() resolves; until then (one turn of the event loop) the slot stays claimed, so
   * concurrent callers do not all crowd onto a session at its limit.
   */
  #claim (session: PeerSession): boolean {
    const claimed = this.#claimed.get(session) ?? 0
    if (session.streamCapacity - claimed <= 0) return false
    this.#claimed.set(session, claimed + 1)
    // One release per turn of the event loop for the whole pool, not a closure and an Immediate per claim.
    if (!this.#releaseScheduled) {
      this.#releaseScheduled = true
      setImmediate(this.#releaseClaims)
    }
    return true
  }

  readonly #releaseClaims = (): void => {
    this.#releaseScheduled = false
    this.#claimed.clear()
  }

  /** A dial; `warmUp`: warm()'s (its own abort signal too, and no backoff when it fails). */
  async #connect (entry: PeerEntry, transport: Transport, address: PeerAddress, identity: string, warmUp?: AbortSignal): Promise<PeerSession> {
    try {
      const signal = warmUp === undefined ? this.#dials.signal : AbortSignal.any([this.#dials.signal, warmUp])
      const session = await transport.connect({
        address, expectedIdentity: identity, tls: this.#options.tls, connectTimeoutMs: this.#options.connectTimeoutMs, signal,
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
      if (warmUp !== undefined) throw meshErr
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

  /** Abrupt: destroys every session and aborts dials in flight. Safe twice. */
  destroy (): void {
    this.#closed = true
    if (!this.#dials.signal.aborted) this.#dials.abort(new MeshError('E_DRAINING', 'session pool destroyed'))
    for (const s of this.sessions()) s.destroy()
  }
}

function entryKey (transport: Transport, address: PeerAddress, identity: string): string {
  return `${transport.name}|${address.host}|${address.port}|${identity}`
}
