/**
 * Request and response families fed by RequestEvent / RequestEndEvent: counts by outcome, latency
 * to the response head, and body bytes. Label sets are resolved once per distinct combination and
 * cached, so a repeated event costs one string key, one map lookup and a few additions; an event
 * with the same labels as the one before costs seven comparisons and the additions.
 */
import type { Registry } from 'prom-client'
import type { RequestEndEvent, RequestEvent } from '../telemetry.js'
import { REQUEST_DURATION_BUCKETS } from './buckets.js'
import type { LabelGuard } from './label-guard.js'
import { CounterFamily, HistogramFamily, observe, type HistogramCell, type ValueCell } from './series.js'

// `route`: the route the request took (outbound, services with routes), '' otherwise.
const OUTCOME_LABELS = ['direction', 'authority', 'status_code', 'status_class', 'error_code', 'identity', 'peer_identity', 'transport', 'route'] as const

/** `2xx` … `5xx`; `none` when no response status exists (0) or it is out of range. */
export function statusClass (status: number): string {
  return status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : 'none'
}

interface RequestSeries {
  requests: ValueCell
  duration: HistogramCell
}

interface EndSeries {
  responses: ValueCell
  requestBytes: ValueCell
  responseBytes: ValueCell
}

export class HttpMetrics {
  private readonly requests: CounterFamily
  private readonly responses: CounterFamily
  private readonly duration: HistogramFamily
  private readonly requestBytes: CounterFamily
  private readonly responseBytes: CounterFamily
  private readonly requestSeries = new Map<string, RequestSeries>()
  private readonly endSeries = new Map<string, EndSeries>()
  private readonly authorities: LabelGuard
  private readonly identities: LabelGuard
  private readonly lastRequest: LastOutcome<RequestSeries> = noOutcome()
  private readonly lastEnd: LastOutcome<EndSeries> = noOutcome()

  constructor (registry: Registry, authorities: LabelGuard, identities: LabelGuard) {
    this.authorities = authorities
    this.identities = identities
    this.requests = new CounterFamily({
      registry,
      name: 'meshgate_requests_total',
      help: 'HTTP requests whose outcome (response head or failure) is known, by direction, authority, status and caller.',
      labelNames: OUTCOME_LABELS,
    })
    this.responses = new CounterFamily({
      registry,
      name: 'meshgate_responses_total',
      help: 'HTTP responses whose body completed, by direction, authority, status and caller.',
      labelNames: OUTCOME_LABELS,
    })
    this.duration = new HistogramFamily({
      registry,
      name: 'meshgate_request_duration_seconds',
      help: 'Time from the start of a request to its response head (or failure), in seconds.',
      labelNames: ['direction', 'authority', 'status_class', 'route'],
      buckets: REQUEST_DURATION_BUCKETS,
    })
    this.requestBytes = new CounterFamily({
      registry,
      name: 'meshgate_request_body_bytes_total',
      help: 'Request body bytes carried, in bytes.',
      labelNames: ['direction', 'authority'],
    })
    this.responseBytes = new CounterFamily({
      registry,
      name: 'meshgate_response_body_bytes_total',
      help: 'Response body bytes carried, in bytes.',
      labelNames: ['direction', 'authority'],
    })
  }

  request (e: RequestEvent): void {
    // The usual case: the same series as the event before (a string key and a map lookup saved).
    const last = this.lastRequest
    const route = e.route ?? ''
    if (last.series !== undefined && last.route === route && sameOutcome(last, e.direction, e.authority, e.status, e.errorCode, e.identity, e.peerIdentity, e.transport)) {
      last.series.requests.value++
      observe(last.series.duration, e.durationSeconds)
      return
    }
    const authority = this.authorities.label(e.authority)
    const identity = this.identities.label(e.identity)
    const peerIdentity = this.identities.label(e.peerIdentity)
    const errorCode = e.errorCode ?? ''
    const key = `${e.direction}\u0001${authority}\u0001${e.status}\u0001${errorCode}\u0001${identity}\u0001${peerIdentity}\u0001${e.transport}\u0001${route}`
    let s = this.requestSeries.get(key)
    if (s === undefined) {
      const cls = statusClass(e.status)
      s = {
        requests: this.requests.cell([e.direction, authority, String(e.status), cls, errorCode, identity, peerIdentity, e.transport, route]),
        duration: this.duration.cell([e.direction, authority, cls, route]),
      }
      this.requestSeries.set(key, s)
    }
    s.requests.value++
    observe(s.duration, e.durationSeconds)
    // Remembered only while no label was folded into `other`: a folded event must count as folded.
    remember(last, authority === e.authority && identity === e.identity && peerIdentity === e.peerIdentity ? s : undefined,
      e.direction, e.authority, e.status, e.errorCode, e.identity, e.peerIdentity, e.transport)
    last.route = route
  }

  requestEnd (e: RequestEndEvent): void {
    const last = this.lastEnd
    const route = e.route ?? ''
    if (last.series !== undefined && last.route === route && sameOutcome(last, e.direction, e.authority, e.status, e.errorCode, e.identity ?? '', e.peerIdentity ?? '', e.transport ?? '')) {
      last.series.responses.value++
      last.series.requestBytes.value += e.requestBytes
      last.series.responseBytes.value += e.responseBytes
      return
    }
    const authority = this.authorities.label(e.authority)
    const identity = this.identities.label(e.identity ?? '')
    const peerIdentity = this.identities.label(e.peerIdentity ?? '')
    const errorCode = e.errorCode ?? ''
    const transport = e.transport ?? ''
    const key = `${e.direction}\u0001${authority}\u0001${e.status}\u0001${errorCode}\u0001${identity}\u0001${peerIdentity}\u0001${transport}\u0001${route}`
    let s = this.endSeries.get(key)
    if (s === undefined) {
      s = {
        responses: this.responses.cell([e.direction, authority, String(e.status), statusClass(e.status), errorCode, identity, peerIdentity, transport, route]),
        requestBytes: this.requestBytes.cell([e.direction, authority]),
        responseBytes: this.responseBytes.cell([e.direction, authority]),
      }
      this.endSeries.set(key, s)
    }
    s.responses.value++
    s.requestBytes.value += e.requestBytes
    s.responseBytes.value += e.responseBytes
    remember(last, authority === e.authority && identity === (e.identity ?? '') && peerIdentity === (e.peerIdentity ?? '') ? s : undefined,
      e.direction, e.authority, e.status, e.errorCode, e.identity ?? '', e.peerIdentity ?? '', transport)
    last.route = route
  }
}

/** The label values of the last event and its series (undefined: nothing remembered). One per family, reused. */
interface LastOutcome<S> {
  direction: string
  authority: string
  status: number
  errorCode: string | undefined
  identity: string
  peerIdentity: string
  transport: string
  route: string
  series: S | undefined
}

function noOutcome<S> (): LastOutcome<S> {
  return { direction: '', authority: '', status: 0, errorCode: undefined, identity: '', peerIdentity: '', transport: '', route: '', series: undefined }
}

function remember<S> (last: LastOutcome<S>, series: S | undefined, direction: string, authority: string, status: number,
  errorCode: string | undefined, identity: string, peerIdentity: string, transport: string): void {
  last.series = series
  last.direction = direction
  last.authority = authority
  last.status = status
  last.errorCode = errorCode
  last.identity = identity
  last.peerIdentity = peerIdentity
  last.transport = transport
}

function sameOutcome (last: LastOutcome<unknown>, direction: string, authority: string, status: number, errorCode: string | undefined,
  identity: string, peerIdentity: string, transport: string): boolean {
  return last.status === status && last.authority === authority && last.direction === direction && last.errorCode === errorCode &&
    last.identity === identity && last.peerIdentity === peerIdentity && last.transport === transport
}
