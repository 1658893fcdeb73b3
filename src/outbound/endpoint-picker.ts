/**
 * What the outbound role needs from discovery + balancing: an endpoint of a service for one
 * request or tunnel. The ServiceDirectory (src/discovery/directory.ts) is the implementation the
 * proxy wires; tests may pass anything of this shape.
 */
import type { AbortSignalLike, Pick, PickKind } from '../balance/types.js'

export interface EndpointPicker {
  /**
   * Resolves with a pick (call its `done` once, when the request's response head arrived or the
   * tunnel closed), or rejects with a MeshError: E_NO_ROUTE (no source serves the service),
   * E_NO_ENDPOINT (none ready within the queue's wait, or `signal` aborted the wait).
   */
  pick: (service: string, kind: PickKind, signal?: AbortSignalLike) => Promise<Pick>
  /**
   * pick() without a promise, when the implementation can: a ready endpoint now, or undefined,
   * and then the caller calls pick() (which also reports why none is ready). Optional.
   */
  tryPick?: (service: string, kind: PickKind) => Pick | undefined
}
