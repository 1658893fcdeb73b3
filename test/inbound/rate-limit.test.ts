// The rate limiter's buckets under an injected clock: per identity, overrides, the total, refill.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MeshError } from '../../core/errors.js'
import { RateLimiter } from '../../src/inbound/rate-limit.js'

function outcome (limiter: RateLimiter, identity: string): string {
  try {
    limiter.admit(identity)
    return 'ok'
  } catch (err) {
    assert.ok(err instanceof MeshError)
    assert.equal(err.code, 'E_RATE_LIMITED')
    assert.equal(err.status, 429)
    return 'limited'
  }
}

test('per identity, with an override, then the total; tokens come back at the configured rate', () => {
  let now = 0
  const refused: string[] = []
  const limiter = new RateLimiter({
    total: { perSecond: 10, burst: 6 },
    perIdentity: { perSecond: 1, burst: 2 },
    identities: { 'spiffe://t/ns/a/sa/vip': { perSecond: 100, burst: 10 } },
  }, (identity, limit) => refused.push(`${identity} ${limit}`), () => now)
  const a = 'spiffe://t/ns/a/sa/a'
  const vip = 'spiffe://t/ns/a/sa/vip'
  assert.deepEqual([1, 2, 3].map(() => outcome(limiter, a)), ['ok', 'ok', 'limited'])
  assert.deepEqual([1, 2, 3, 4, 5].map(() => outcome(limiter, vip)), ['ok', 'ok', 'ok', 'ok', 'limited'], 'the total (6) ends the vip\'s larger burst')
  assert.deepEqual(refused, [`${a} identity`, `${vip} total`])
  now += 1000
  assert.equal(outcome(limiter, a), 'ok', 'one token a second for a, ten for the total')
  assert.equal(outcome(limiter, a), 'limited')
})
