/**
 * Inbound local rate limiting: a token bucket for all callers together and one per caller
 * identity (with per-identity overrides). A request over either limit is refused with 429
 * `E_RATE_LIMITED` before it reaches the workload. The per-identity buckets are bounded: past
 * 10,000 identities the longest unused is forgotten (it starts again with a full bucket).
 */
import { TokenBucket } from '../admin/token-bucket.js'
import type { RateLimitConfig } from '../config/types.js'
import { MeshError } from '../../core/errors.js'

const MAX_IDENTITIES = 10_000

export class RateLimiter {
  readonly #config: RateLimitConfig
  readonly #now: () => number
  readonly #total: TokenBucket | undefined
  readonly #perIdentity = new Map<string, TokenBucket>()
  /** Called for each refusal, with the caller and the limit (`total` or `identity`). */
  readonly #onLimited: (identity: string, limit: string) => void

  constructor (config: RateLimitConfig, onLimited: (identity: string, limit: string) => void = () => {}, now: () => number = () => performance.now()) {
    this.#config = config
    this.#now = now
    this.#onLimited = onLimited
    this.#total = config.total === undefined ? undefined : new TokenBucket(config.total.perSecond, config.total.burst, now)
  }

  /** Throws MeshError E_RATE_LIMITED when `identity` (or everyone together) is over the limit. */
  admit (identity: string): void {
    const own = this.#bucket(identity)
    if (own !== undefined && !own.take()) this.#refuse(identity, 'identity')
    if (this.#total !== undefined && !this.#total.take()) this.#refuse(identity, 'total')
  }

  #refuse (identity: string, limit: string): never {
    this.#onLimited(identity, limit)
    throw new MeshError('E_RATE_LIMITED', `${identity === '' ? 'the caller' : identity} is over the ${limit === 'total' ? 'total' : 'per-identity'} rate limit`)
  }

  #bucket (identity: string): TokenBucket | undefined {
    let bucket = this.#perIdentity.get(identity)
    if (bucket !== undefined) {
      // Most recently used last: the first entry is the one to forget.
      this.#perIdentity.delete(identity)
      this.#perIdentity.set(identity, bucket)
      return bucket
    }
    const limit = this.#config.identities[identity] ?? this.#config.perIdentity
    if (limit === undefined) return undefined
    bucket = new TokenBucket(limit.perSecond, limit.burst, this.#now)
    if (this.#perIdentity.size >= MAX_IDENTITIES) {
      const oldest = this.#perIdentity.keys().next().value
      if (oldest !== undefined) this.#perIdentity.delete(oldest)
    }
    this.#perIdentity.set(identity, bucket)
    return bucket
  }
}
