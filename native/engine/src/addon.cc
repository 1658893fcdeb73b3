// meshgate_engine: Node-API entry point. Exports the Engine class (a thin JS wrapper forwarding
// to engine.h), the HTTP/1 request parser (http1-parser.h) and the versions of the C libraries the addon was linked against.
#include <gnutls/gnutls.h>
#include <llhttp.h>
#include <napi.h>
#include <nghttp2/nghttp2.h>

#include "app-http1.h"
#include "engine.h"

namespace meshgate {
namespace engine {

// Marks the JS objects that wrap an Engine, so that an AppHost's forward() can tell one from any
// other wrapped object (a QUIC Endpoint, say) before it unwraps it.
const napi_type_tag kEngineTag = {0x6d657368676174ULL, 0x65656e67696e65ULL};

class EngineWrap : public Napi::ObjectWrap<EngineWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Engine",
                       {
                           InstanceMethod("address", &EngineWrap::Address),
                           InstanceMethod("connect", &EngineWrap::Connect),
                           InstanceMethod("request", &EngineWrap::Request),
                           InstanceMethod("respond", &EngineWrap::Respond),
                           InstanceMethod("write", &EngineWrap::Write),
                           InstanceMethod("resumeRead", &EngineWrap::ResumeRead),
                           InstanceMethod("resetStream", &EngineWrap::ResetStream),
                           InstanceMethod("closeConnection", &EngineWrap::CloseConnection),
                           InstanceMethod("stats", &EngineWrap::Stats),
                           InstanceMethod("streamsLeft", &EngineWrap::StreamsLeft),
                           InstanceMethod("close", &EngineWrap::Close),
                           InstanceMethod("setRef", &EngineWrap::SetRef),
                           InstanceMethod("stopAccepting", &EngineWrap::StopAccepting),
                           InstanceMethod("spliceFd", &EngineWrap::SpliceFd),
                           InstanceMethod("spliceConnect", &EngineWrap::SpliceConnect),
                           InstanceMethod("spliceStart", &EngineWrap::SpliceStart),
                           InstanceMethod("setCredentials", &EngineWrap::SetCredentials),
                           InstanceMethod("allowTarget", &EngineWrap::AllowTarget),
                           InstanceMethod("clearTargets", &EngineWrap::ClearTargets),
                       });
  }

  explicit EngineWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<EngineWrap>(info) {
    core_ = new Engine(info, this);
    if (core_->initError().empty()) {
      napi_type_tag_object(info.Env(), info.This(), &kEngineTag);
      return;
    }
    std::string error = core_->initError();
    Engine* core = core_;
    core_ = nullptr;
    core->Detach();
    core->Shutdown();  // deletes itself once its handles have closed
    Napi::Error::New(info.Env(), error).ThrowAsJavaScriptException();
  }

  ~EngineWrap() override {
    if (core_ != nullptr) core_->WrapperGone();
  }

  void Detach() { core_ = nullptr; }
  Engine* core() const { return core_; }

 private:
#define MESHGATE_FORWARD(name, closedValue)          \
  Napi::Value name(const Napi::CallbackInfo& info) { \
    if (core_ == nullptr) return closedValue;        \
    return core_->name(info);                        \
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
  MESHGATE_FORWARD(StreamsLeft, Napi::Number::New(info.Env(), 0))
  MESHGATE_FORWARD(Close, info.Env().Undefined())
  MESHGATE_FORWARD(SetRef, info.Env().Undefined())
  MESHGATE_FORWARD(StopAccepting, info.Env().Undefined())
  MESHGATE_FORWARD(SpliceFd, Closed(info))
  MESHGATE_FORWARD(SpliceConnect, Closed(info))
  MESHGATE_FORWARD(SpliceStart, Closed(info))
  MESHGATE_FORWARD(AllowTarget, Napi::Boolean::New(info.Env(), false))
  MESHGATE_FORWARD(ClearTargets, info.Env().Undefined())
  MESHGATE_FORWARD(SetCredentials, Closed(info))
#undef MESHGATE_FORWARD

  static Napi::Value Closed(const Napi::CallbackInfo& info) {
    Napi::Error::New(info.Env(), "engine is closed").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }

  Engine* core_ = nullptr;
};

void DetachEngineWrap(void* wrap) { static_cast<EngineWrap*>(wrap)->Detach(); }

Engine* EngineFromValue(Napi::Value v) {
  if (!v.IsObject()) return nullptr;
  bool tagged = false;
  if (napi_check_object_type_tag(v.Env(), v, &kEngineTag, &tagged) != napi_ok || !tagged) return nullptr;
  EngineWrap* wrap = EngineWrap::Unwrap(v.As<Napi::Object>());
  return wrap == nullptr ? nullptr : wrap->core();
}

// The JS face of an AppHost (app-http1.h): `new AppHost(options, emit)`.
class AppHostWrap : public Napi::ObjectWrap<AppHostWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "AppHost",
                       {
                           InstanceMethod("adopt", &AppHostWrap::Adopt),
                           InstanceMethod("forward", &AppHostWrap::Forward),
                           InstanceMethod("answer", &AppHostWrap::Answer),
                           InstanceMethod("handBack", &AppHostWrap::HandBack),
                           InstanceMethod("drain", &AppHostWrap::Drain),
                           InstanceMethod("close", &AppHostWrap::Close),
                           InstanceMethod("count", &AppHostWrap::Count),
                           InstanceMethod("adoptH2c", &AppHostWrap::AdoptH2c),
                           InstanceMethod("forwardStream", &AppHostWrap::ForwardStream),
                           InstanceMethod("answerStream", &AppHostWrap::AnswerStream),
                           InstanceMethod("refuseStream", &AppHostWrap::RefuseStream),
                       });
  }

  explicit AppHostWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<AppHostWrap>(info) {
    core_ = new AppHost(info, this);
    if (core_->initError().empty()) return;
    std::string error = core_->initError();
    AppHost* core = core_;
    core_ = nullptr;
    delete core;  // nothing was opened before the arguments were checked
    Napi::Error::New(info.Env(), error).ThrowAsJavaScriptException();
  }

  ~AppHostWrap() override {
    if (core_ != nullptr) core_->WrapperGone();
  }

  void Detach() { core_ = nullptr; }

 private:
#define MESHGATE_FORWARD(name, closedValue)          \
  Napi::Value name(const Napi::CallbackInfo& info) { \
    if (core_ == nullptr) return closedValue;        \
    return core_->name(info);                        \
  }
  MESHGATE_FORWARD(Adopt, Closed(info))
  MESHGATE_FORWARD(Forward, Napi::Number::New(info.Env(), 1))
  MESHGATE_FORWARD(Answer, info.Env().Undefined())
  MESHGATE_FORWARD(HandBack, info.Env().Null())
  MESHGATE_FORWARD(Drain, info.Env().Undefined())
  MESHGATE_FORWARD(Close, info.Env().Undefined())
  MESHGATE_FORWARD(Count, Napi::Number::New(info.Env(), 0))
  MESHGATE_FORWARD(AdoptH2c, Closed(info))
  MESHGATE_FORWARD(ForwardStream, Napi::Number::New(info.Env(), 1))
  MESHGATE_FORWARD(AnswerStream, Napi::Number::New(info.Env(), 1))
  MESHGATE_FORWARD(RefuseStream, Napi::Number::New(info.Env(), 1))
#undef MESHGATE_FORWARD

  static Napi::Value Closed(const Napi::CallbackInfo& info) {
    Napi::Error::New(info.Env(), "the app host is closed").ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }

  AppHost* core_ = nullptr;
};

void DetachAppHostWrap(void* wrap) { static_cast<AppHostWrap*>(wrap)->Detach(); }

Napi::Value OriginalDst(const Napi::CallbackInfo& info);  // original-dst.cc
Napi::Function Http1ParserClass(Napi::Env env);            // http1-parser-wrap.cc
Napi::Value RelieveMemory(const Napi::CallbackInfo& info); // memory-relief.cc

}  // namespace engine
}  // namespace meshgate

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  meshgate::PinMallocThresholds();
  exports.Set("Engine", meshgate::engine::EngineWrap::Init(env));
  exports.Set("originalDst", Napi::Function::New(env, meshgate::engine::OriginalDst));
  exports.Set("Http1RequestParser", meshgate::engine::Http1ParserClass(env));
  exports.Set("AppHost", meshgate::engine::AppHostWrap::Init(env));
  exports.Set("relieveMemory", Napi::Function::New(env, meshgate::engine::RelieveMemory));
  Napi::Object versions = Napi::Object::New(env);
  versions.Set("nghttp2", nghttp2_version(0)->version_str);
  versions.Set("gnutls", gnutls_check_version(nullptr));
  versions.Set("llhttp", std::to_string(LLHTTP_VERSION_MAJOR) + "." + std::to_string(LLHTTP_VERSION_MINOR) + "." +
                             std::to_string(LLHTTP_VERSION_PATCH));
  exports.Set("versions", versions);
  return exports;
}

}  // namespace

NODE_API_MODULE(meshgate_engine, Init)
