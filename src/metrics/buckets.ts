/** Histogram bucket bounds shared by the metric families, in seconds. */

/** Request latency: 0.5 ms to 10 s, roughly 1–2.5–5 per decade. */
export const REQUEST_DURATION_BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]

/** TCP tunnel lifetimes: 10 ms to 1 h. */
export const CONNECTION_DURATION_BUCKETS: readonly number[] = [
  0.01, 0.1, 1, 10, 60, 300, 900, 1800, 3600,
]

/** Peer session keep-alive round trips: 0.1 ms to 1 s. */
export const RTT_BUCKETS: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
]
