// add-header: adds `x-plugin: <config or "add-header">` to every response; a Proxy-Wasm plugin
// built with the AssemblyScript SDK (@solo-io/proxy-runtime), the kind Envoy runs unchanged.
export * from '@solo-io/proxy-runtime/proxy'
import { RootContext, Context, registerRootContext, FilterHeadersStatusValues, stream_context } from '@solo-io/proxy-runtime'
import { pluginConfiguration } from './lib/config'

class AddHeaderRoot extends RootContext {
  value: string = 'add-header'
  onConfigure (size: u32): bool {
    const text = pluginConfiguration(size)
    if (text.length > 0) this.value = text
    return true
  }
  createContext (contextId: u32): Context {
    return new AddHeader(contextId, this)
  }
}

class AddHeader extends Context {
  constructor (contextId: u32, root: AddHeaderRoot) {
    super(contextId, root)
  }
  onResponseHeaders (headers: u32, endOfStream: bool): FilterHeadersStatusValues {
    stream_context.headers.response.add('x-plugin', (this.root_context as AddHeaderRoot).value)
    return FilterHeadersStatusValues.Continue
  }
}

registerRootContext((contextId: u32) => { return new AddHeaderRoot(contextId) }, 'add-header')
