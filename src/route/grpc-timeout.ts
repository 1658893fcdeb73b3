/**
 * The gRPC deadline header (`grpc-timeout`, gRPC over HTTP/2 spec): at most 8 ASCII digits and a
 * unit, H (hours), M (minutes), S (seconds), m (milliseconds), u (microseconds), n (nanoseconds).
 */
const UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 }

/** The deadline in ms (at least 1), or undefined when the value is absent or malformed. */
export function parseGrpcTimeout (value: string | string[] | undefined): number | undefined {
  if (typeof value !== 'string') return undefined
  const m = /^(\d{1,8})([HMSmun])$/.exec(value)
  if (m === null) return undefined
  return Math.max(1, Math.ceil(Number(m[1]) * (UNIT_MS[m[2]] as number)))
}
