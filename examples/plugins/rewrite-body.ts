// rewrite-body: replaces every `FROM` with `TO` in request and response bodies (config
// `FROM:TO`). Holds each body back until its end (StopIterationAndBuffer), then rewrites it
// whole; drops content-length from both heads, since the length changes.
export * from '@solo-io/proxy-runtime/proxy'
import { RootContext, Context, registerRootContext, FilterHeadersStatusValues, FilterDataStatusValues, stream_context } from '@solo-io/proxy-runtime'
import { get_buffer_bytes, BufferTypeValues } from '@solo-io/proxy-runtime/runtime'
import { pluginConfiguration } from './lib/config'
import { replaceBuffer } from './lib/buffers'

class RewriteRoot extends RootContext {
  from: string = ''
  to: string = ''
  onConfigure (size: u32): bool {
    const text = pluginConfiguration(size)
    const at = text.indexOf(':')
    if (at <= 0) return false
    this.from = text.substring(0, at)
    this.to = text.substring(at + 1)
    return true
  }
  createContext (contextId: u32): Context {
    return new Rewrite(contextId, this)
  }
}

class Rewrite extends Context {
  constructor (contextId: u32, root: RewriteRoot) {
    super(contextId, root)
  }
  onRequestHeaders (headers: u32, endOfStream: bool): FilterHeadersStatusValues {
    stream_context.headers.request.remove('content-length')
    return FilterHeadersStatusValues.Continue
  }
  onResponseHeaders (headers: u32, endOfStream: bool): FilterHeadersStatusValues {
    stream_context.headers.response.remove('content-length')
    return FilterHeadersStatusValues.Continue
  }
  onRequestBody (length: usize, endOfStream: bool): FilterDataStatusValues {
    return this.rewrite(BufferTypeValues.HttpRequestBody, <u32>length, endOfStream)
  }
  onResponseBody (length: usize, endOfStream: bool): FilterDataStatusValues {
    return this.rewrite(BufferTypeValues.HttpResponseBody, <u32>length, endOfStream)
  }
  rewrite (type: BufferTypeValues, length: u32, endOfStream: bool): FilterDataStatusValues {
    if (!endOfStream) return FilterDataStatusValues.StopIterationAndBuffer
    const root = this.root_context as RewriteRoot
    const text = String.UTF8.decode(get_buffer_bytes(type, 0, length))
    replaceBuffer(type, length, String.UTF8.encode(text.split(root.from).join(root.to)))
    return FilterDataStatusValues.Continue
  }
}

registerRootContext((contextId: u32) => { return new RewriteRoot(contextId) }, 'rewrite-body')
