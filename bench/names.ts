/**
 * Logical destination names shared by the scenarios (which send them as Host / :authority) and
 * the meshgate config (which routes on them). The direct and HAProxy paths ignore them.
 */
export const AUTHORITY = {
  http1: 'bench-http1',
  h2c: 'bench-h2c',
  tcp: 'bench-tcp',
} as const
