/**
 * The direct path: the load tools talk to the upstreams themselves. The baseline every proxy is
 * compared with.
 */
import type { PathDefinition } from './types.js'

export const directPath: PathDefinition = {
  id: 'direct',
  title: 'direct',
  start: async (context) => ({ entry: { ...context.upstream }, processes: [], stop: async () => {} }),
}
