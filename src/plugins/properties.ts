/**
 * The properties a plugin reads with `proxy_get_property`, under Envoy's attribute names where
 * one exists (`request.path`, `source.address`, `connection.uri_san_peer_certificate`,
 * `xds.route_name`) and meshgate's own under `meshgate.` (`meshgate.service`, `meshgate.direction`).
 * `xds.route_name` and `meshgate.route` are the name of the route the request was matched to (the
 * `route` label of the request metrics), absent while it is not routed yet or when no route matched.
 */
import type { PropertyMap } from './vm-protocol.js'

export interface RequestFacts {
  direction: 'outbound' | 'inbound'
  method: string
  path: string
  authority: string
  scheme: string
  /** `HTTP/1.1` or `HTTP/2`. */
  protocol: string
  requestId: string
  /** SPIFFE ID of the calling workload ('' when not known). */
  sourcePrincipal: string
  /** SPIFFE ID of the called workload ('' when not known yet). */
  destinationPrincipal: string
  sourceAddress: string
  destinationAddress: string
  /** The service the request routes to ('' when none). */
  service: string
  /** The route it was matched to ('' when none, or not routed yet). */
  route: string
  /** The listener the request came in on. */
  listener: string
}

export function requestProperties (f: RequestFacts): PropertyMap {
  const out: PropertyMap = {
    'request.method': f.method,
    'request.path': f.path,
    'request.url_path': f.path.split('?')[0] ?? f.path,
    'request.host': f.authority,
    'request.scheme': f.scheme,
    'request.protocol': f.protocol,
    'request.id': f.requestId,
    'source.address': f.sourceAddress,
    'destination.address': f.destinationAddress,
    'source.principal': f.sourcePrincipal,
    'destination.principal': f.destinationPrincipal,
    ...routeProperties(f.route),
    'xds.cluster_name': f.service,
    'xds.listener_name': f.listener,
    'meshgate.service': f.service,
    'meshgate.direction': f.direction,
    'meshgate.listener': f.listener,
  }
  // From the peer's point of view (mTLS): which side holds which certificate.
  out['connection.uri_san_peer_certificate'] = f.direction === 'outbound' ? f.destinationPrincipal : f.sourcePrincipal
  out['connection.uri_san_local_certificate'] = f.direction === 'outbound' ? f.sourcePrincipal : f.destinationPrincipal
  for (const key of Object.keys(out)) if (out[key] === '') delete out[key]
  return out
}

/** The properties that name the route a request was matched to. */
export function routeProperties (route: string): PropertyMap {
  return { 'xds.route_name': route, 'meshgate.route': route }
}
