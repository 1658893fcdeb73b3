// relieveMemory(): hands memory the process no longer uses back to the system, for when the proxy
// has gone quiet after a burst (src/memory-relief.ts decides when). V8 keeps what a burst grew:
// the young generation's semi-spaces stay at their grown size, old-generation pages freed by the
// next full collection stay committed, and that collection waits for V8's own memory reducer
// (tens of seconds) or for the old generation's next limit. LowMemoryNotification() collects
// everything unreachable now, shrinks both generations and releases their empty pages, which
// Node-API has no call for: this is the engine's one use of V8's own API. malloc_trim(0) then
// returns the free pages of glibc's heaps (the engine's buffers of connections that have closed).
// It blocks the loop for the collection, ~20 ms for the ~20 MB heap of a busy outbound.
#include <napi.h>
#include <v8.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace meshgate {
namespace engine {

Napi::Value RelieveMemory(const Napi::CallbackInfo& info) {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  if (isolate != nullptr) isolate->LowMemoryNotification();
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
  return info.Env().Undefined();
}

}  // namespace engine
}  // namespace meshgate
