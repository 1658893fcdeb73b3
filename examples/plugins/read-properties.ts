// read-properties: reads the host's properties (request path and method, caller and callee
// identity, route, service, direction) and reports them as `x-prop-*` response headers, with a
// request count kept in shared data (`x-request-count`) and the root's tick count (`x-ticks`).
// The route is read with the response: a listener's plugins run before the request is routed.
export * from '@solo-io/proxy-runtime/proxy'
import { RootContext, Context, registerRootContext, FilterHeadersStatusValues, stream_context } from '@solo-io/proxy-runtime'
import { set_tick_period_milliseconds } from '@solo-io/proxy-runtime/runtime'
import { incrementShared } from './lib/shared'
import { propertyOrEmpty } from './lib/property'

const REQUEST_PHASE: string[] = ['request.path', 'request.method', 'source.principal', 'meshgate.service', 'meshgate.direction', 'plugin_name']
const RESPONSE_PHASE: string[] = ['destination.principal', 'response.code', 'xds.route_name']

function property (name: string): string {
  return propertyOrEmpty(name)
}

class PropertiesRoot extends RootContext {
  ticks: u32 = 0
  onConfigure (size: u32): bool {
    set_tick_period_milliseconds(50)
    return true
  }
  onTick (): void {
    this.ticks++
  }
  createContext (contextId: u32): Context {
    return new Properties(contextId, this)
  }
}

class Properties extends Context {
  seen: string[] = []
  count: u32 = 0
  constructor (contextId: u32, root: PropertiesRoot) {
    super(contextId, root)
  }
  onRequestHeaders (headers: u32, endOfStream: bool): FilterHeadersStatusValues {
    for (let i = 0; i < REQUEST_PHASE.length; i++) this.seen.push(property(REQUEST_PHASE[i]))
    this.count = incrementShared('requests')
    return FilterHeadersStatusValues.Continue
  }
  onResponseHeaders (headers: u32, endOfStream: bool): FilterHeadersStatusValues {
    const response = stream_context.headers.response
    for (let i = 0; i < this.seen.length; i++) response.add('x-prop-' + REQUEST_PHASE[i].split('.').join('-'), this.seen[i])
    for (let i = 0; i < RESPONSE_PHASE.length; i++) response.add('x-prop-' + RESPONSE_PHASE[i].split('.').join('-'), property(RESPONSE_PHASE[i]))
    response.add('x-request-count', this.count.toString())
    response.add('x-ticks', (this.root_context as PropertiesRoot).ticks.toString())
    return FilterHeadersStatusValues.Continue
  }
}

registerRootContext((contextId: u32) => { return new PropertiesRoot(contextId) }, 'read-properties')
