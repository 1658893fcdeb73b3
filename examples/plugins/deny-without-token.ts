// deny-without-token: answers 401 itself (proxy_send_local_response) unless the request carries
// `authorization: Bearer <token>`, the token being the plugin's config; logs each denial (info).
export * from '@solo-io/proxy-runtime/proxy'
import { RootContext, Context, registerRootContext, FilterHeadersStatusValues, stream_context, send_local_response, GrpcStatusValues, HeaderPair } from '@solo-io/proxy-runtime'
import { log, LogLevelValues } from '@solo-io/proxy-runtime/runtime'
import { pluginConfiguration } from './lib/config'

class DenyRoot extends RootContext {
  token: string = ''
  onConfigure (size: u32): bool {
    this.token = pluginConfiguration(size)
    return this.token.length > 0
  }
  createContext (contextId: u32): Context {
    return new Deny(contextId, this)
  }
}

class Deny extends Context {
  constructor (contextId: u32, root: DenyRoot) {
    super(contextId, root)
  }
  onRequestHeaders (headers: u32, endOfStream: bool): FilterHeadersStatusValues {
    const given = stream_context.headers.request.get('authorization')
    if (given == 'Bearer ' + (this.root_context as DenyRoot).token) return FilterHeadersStatusValues.Continue
    const extra: HeaderPair[] = [new HeaderPair(String.UTF8.encode('www-authenticate'), String.UTF8.encode('Bearer')),
      new HeaderPair(String.UTF8.encode('content-type'), String.UTF8.encode('text/plain'))]
    log(LogLevelValues.info, 'denied ' + stream_context.headers.request.get(':path') + ': no valid token')
    send_local_response(401, 'token required', String.UTF8.encode('a bearer token is required\n'), extra, GrpcStatusValues.InvalidCode)
    return FilterHeadersStatusValues.StopIteration
  }
}

registerRootContext((contextId: u32) => { return new DenyRoot(contextId) }, 'deny-without-token')
