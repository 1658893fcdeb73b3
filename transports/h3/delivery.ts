// Native inbound delivery on a session of the QUIC-shaped binding (the native h2 engine can;
// the QUIC addon cannot): ask the core once per session × target whether the engine may deliver
// the session's requests to that target itself (for the configured targets as soon as the
// session opens, for others after their first request), and turn the engine's `delivered`
// events into the core's DeliveryRecords.
import { DELIVERED_FLAG } from '../../native/index.js'
import type { QuicHeaders, QuicSession } from '../../native/quic.js'
import type { DeliveryRecord, InboundDelivery, TransportObserver } from '../contract.js'

/** Targets asked about per session at most (a caller naming ever new ones is not remembered forever). */
const MAX_ASKED = 64
/** Of those, asked about as the session opens (the rest stay for targets named by requests). */
const MAX_AHEAD = 32

/** Wires `session` for native delivery when both its binding and the core can; returns the per-request hook. */
export function serveDelivery (session: QuicSession, delivery: InboundDelivery | undefined, transport: string, observer: TransportObserver | undefined): ((head: QuicHeaders) => void) | undefined {
  if (delivery === undefined || !session.canDeliver) return undefined
  const caller = session.peerIdentity
  const asked = new Set<string>()
  session.on('delivered', (status: number, flag: number, strings: string[], numbers: number[]) => {
    // The engine's streams count like the JS-served ones.
    observer?.streamOpened?.(transport, 'server')
    observer?.streamClosed?.(transport, 'server')
    delivery.record(deliveryRecord(caller, status, flag, strings, numbers))
  })
  const ask = (target: string): void => {
    if (asked.has(target) || asked.size >= MAX_ASKED) return
    asked.add(target)
    const grant = delivery.grant(caller, target)
    if (grant !== undefined) session.allowTarget(target, grant)
  }
  // The configured targets at once: the session's first request to each is native too.
  const askAhead = (): void => { for (const target of (delivery.targets?.() ?? []).slice(0, MAX_AHEAD)) ask(target) }
  askAhead()
  // Grants withdrawn (new limits): asked about again, under what holds now.
  session.on('targetsCleared', () => {
    asked.clear()
    askAhead()
  })
  return (head) => {
    const target = head['meshgate-target']
    if (typeof target === 'string') ask(target)
  }
}

/** A `delivered` event's fields (native/engine/src/engine.h kEventDelivered) as a DeliveryRecord. */
export function deliveryRecord (caller: string, status: number, flag: number, strings: string[], numbers: number[]): DeliveryRecord {
  const [target = '', method = '', path = '', authority = '', requestId = '', errorCode = '', errorMessage = '', origProto = ''] = strings
  const [requestBytes = 0, responseBytes = 0, headMs = 0, totalMs = 0] = numbers
  return {
    caller,
    target,
    method,
    path,
    authority,
    requestId,
    status,
    errorCode: errorCode === '' ? undefined : errorCode,
    errorMessage,
    origProto: origProto === '' ? undefined : origProto,
    requestBytes,
    responseBytes,
    headMs,
    totalMs,
    headSent: (flag & DELIVERED_FLAG.headSent) !== 0,
    peerGone: (flag & DELIVERED_FLAG.peerGone) !== 0,
  }
}
