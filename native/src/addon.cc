// meshgate_quic: Node-API entry point. Exports the Endpoint class (a thin JS wrapper forwarding
// to endpoint.h) and the versions of the C libraries the addon was linked against.
#include <gnutls/gnutls.h>
#include <napi.h>
#include <nghttp3/nghttp3.h>
#include <ngtcp2/ngtcp2.h>

#include "endpoint.h"
#include "socket-splice.h"

namespace meshgate {

// The JS object. It never owns the libuv handles: the Endpoint outlives it until they closed.
class EndpointWrap : public Napi::ObjectWrap<EndpointWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Endpoint",
                       {
                           InstanceMethod("address", &EndpointWrap::Address),
                           InstanceMethod("connect", &EndpointWrap::Connect),
                           InstanceMethod("request", &EndpointWrap::Request),
                           InstanceMethod("respond", &EndpointWrap::Respond),
                           InstanceMethod("write", &EndpointWrap::Write),
                           InstanceMethod("resumeRead", &EndpointWrap::ResumeRead),
                           InstanceMethod("resetStream", &EndpointWrap::ResetStream),
                           InstanceMethod("closeConnection", &EndpointWrap::CloseConnection),
                           InstanceMethod("stats", &EndpointWrap::Stats),
                           InstanceMethod("close", &EndpointWrap::Close),
                           InstanceMethod("setRef", &EndpointWrap::SetRef),
                           InstanceMethod("stopAccepting", &EndpointWrap::StopAccepting),
                           InstanceMethod("spliceFd", &EndpointWrap::SpliceFd),
                           InstanceMethod("spliceStart", &EndpointWrap::SpliceStart),
                           InstanceMethod("spliceConnect", &EndpointWrap::SpliceConnect),
                           InstanceMethod("setCredentials", &EndpointWrap::SetCredentials),
                       });
  }

  explicit EndpointWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EndpointWrap>(info) {
    core_ = new Endpoint(info, this);
    if (core_->initError().empty()) return;
    std::string error = core_->initError();
    Endpoint* core = core_;
    core_ = nullptr;
    core->Detach();
    if (core->openHandles() == 0) delete core;
    else core->Shutdown();  // deletes itself once its handles have closed
    Napi::Error::New(info.Env(), error).ThrowAsJavaScriptException();
  }

  ~EndpointWrap() override {
    if (core_ != nullptr) core_->WrapperGone();
  }

  void Detach() { core_ = nullptr; }

 private:
#define MESHGATE_FORWARD(name, closedValue)                   \
  Napi::Value name(const Napi::CallbackInfo& info) {          \
    if (core_ == nullptr) return closedValue;                 \
    return core_->name(info);                                 \
  }
  MESHGATE_FORWARD(Address, info.Env().Undefined())
  MESHGATE_FORWARD(Connect, Closed(info))
  MESHGATE_FORWARD(Request, Closed(info))
  MESHGATE_FORWARD(Respond, Closed(info))
  MESHGATE_FORWARD(Write, Napi::Boolean::New(info.Env(), true))
  MESHGATE_FORWARD(ResumeRead, info.Env().Undefined())
  MESHGATE_FORWARD(ResetStream, info.Env().Undefined())
  MESHGATE_FORWARD(CloseConnection, info.Env().Undefined())
  MESHGATE_FORWARD(Stats, info.Env().Undefined())
  MESHGATE_FORWARD(Close, info.Env().Undefined())
  MESHGATE_FORWARD(SetRef, info.Env().Undefined())
  MESHGATE_FORWARD(StopAccepting, info.Env().Undefined())
  MESHGATE_FORWARD(SetCredentials, Closed(info))
  MESHGATE_FORWARD(SpliceFd, Closed(info))
  MESHGATE_FORWARD(SpliceStart, Closed(info))
  MESHGATE_FORWARD(SpliceConnect, Closed(info))
#undef MESHGATE_FORWARD

  static Napi::Value Closed(const Napi::CallbackInfo& info) {
    Napi::Error::New(info.Env(), "endpoint is closed").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }

  Endpoint* core_ = nullptr;
};

void DetachWrap(EndpointWrap* wrap) { wrap->Detach(); }

}  // namespace meshgate

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  meshgate::PinMallocThresholds();
  exports.Set("Endpoint", meshgate::EndpointWrap::Init(env));
  Napi::Object versions = Napi::Object::New(env);
  versions.Set("ngtcp2", ngtcp2_version(0)->version_str);
  versions.Set("nghttp3", nghttp3_version(0)->version_str);
  versions.Set("gnutls", gnutls_check_version(nullptr));
  exports.Set("versions", versions);
  return exports;
}

}  // namespace

NODE_API_MODULE(meshgate_quic, Init)
