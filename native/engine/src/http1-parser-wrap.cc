// Http1RequestParser for JavaScript: `new Http1RequestParser({ maxHeaderBytes, maxHeaderCount })`,
// then `execute(buffer)` and `finish()` return the events the bytes made, in order:
//   { kind: 'head', method, target, versionMajor, versionMinor, headers, keepAlive, upgrade,
//     expectContinue, body: 0 none | 1 length | 2 chunked, contentLength, headBytes }
//   { kind: 'body', data }                 body bytes, chunked framing removed
//   { kind: 'end', trailers }              the message is complete
//   { kind: 'upgrade', rest }              the request upgraded; rest: the bytes after it
//   { kind: 'error', status, code, name, reason, offset }
// The engine's app listeners drive the C++ class directly (docs/native-http.md, stage 2); this
// binding is how its tests reach the same code.
#include <napi.h>

#include <memory>

#include "http1-parser.h"

namespace meshgate {
namespace engine {

namespace {

class BodyCollector : public Http1BodySink {
 public:
  void OnBody(const uint8_t* data, size_t len) override { chunks.emplace_back(data, data + len); }
  std::vector<std::vector<uint8_t>> chunks;
};

// Field bytes are octets, not UTF-8 (RFC 9110 §5.5 obs-text): they cross as latin1, one
// character per byte, as node:http gives them.
Napi::Value Latin1(Napi::Env env, const std::string& s) {
  napi_value out;
  if (napi_create_string_latin1(env, s.data(), s.size(), &out) != napi_ok) return env.Undefined();
  return Napi::Value(env, out);
}

Napi::Array Strings(Napi::Env env, const std::vector<std::string>& list) {
  Napi::Array out = Napi::Array::New(env, list.size());
  for (size_t i = 0; i < list.size(); i++) out.Set(static_cast<uint32_t>(i), Latin1(env, list[i]));
  return out;
}

class Http1ParserWrap : public Napi::ObjectWrap<Http1ParserWrap> {
 public:
  static Napi::Function Init(Napi::Env env) {
    return DefineClass(env, "Http1RequestParser",
                       {
                           InstanceMethod("execute", &Http1ParserWrap::ExecuteJs),
                           InstanceMethod("finish", &Http1ParserWrap::FinishJs),
                       });
  }

  explicit Http1ParserWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Http1ParserWrap>(info) {
    Napi::Env env = info.Env();
    Http1Limits limits;
    if (info.Length() > 0 && info[0].IsObject()) {
      Napi::Object options = info[0].As<Napi::Object>();
      if (!ReadLimit(env, options, "maxHeaderBytes", &limits.maxHeaderBytes)) return;
      if (!ReadLimit(env, options, "maxHeaderCount", &limits.maxHeaderCount)) return;
    }
    parser_ = std::make_unique<Http1RequestParser>(limits, &body_);
  }

 private:
  static bool ReadLimit(Napi::Env env, Napi::Object options, const char* key, size_t* out) {
    Napi::Value v = options.Get(key);
    if (v.IsUndefined()) return true;
    double n = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
    if (!(n >= 1 && n <= 16.0 * 1024 * 1024) || n != static_cast<double>(static_cast<uint64_t>(n))) {
      Napi::TypeError::New(env, std::string(key) + " must be an integer from 1 to 16777216")
          .ThrowAsJavaScriptException();
      return false;
    }
    *out = static_cast<size_t>(n);
    return true;
  }

  Napi::Value ExecuteJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsBuffer()) {
      Napi::TypeError::New(env, "execute(buffer) needs a Buffer").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (!parser_) return env.Undefined();
    Napi::Buffer<uint8_t> buf = info[0].As<Napi::Buffer<uint8_t>>();
    const uint8_t* data = buf.Data();
    size_t len = buf.Length();
    Napi::Array events = Napi::Array::New(env);
    size_t done = 0;
    for (;;) {
      Http1RequestParser::Step step = parser_->Execute(data + done, len - done);
      done += step.consumed;
      FlushBody(env, events);
      if (Report(env, events, step.status, data + done, len - done)) break;
    }
    return events;
  }

  Napi::Value FinishJs(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array events = Napi::Array::New(env);
    if (!parser_) return events;
    Http1RequestParser::Step step = parser_->Finish();
    Report(env, events, step.status, nullptr, 0);
    return events;
  }

  void FlushBody(Napi::Env env, Napi::Array events) {
    for (std::vector<uint8_t>& chunk : body_.chunks) {
      Napi::Object ev = Napi::Object::New(env);
      ev.Set("kind", "body");
      ev.Set("data", Napi::Buffer<uint8_t>::Copy(env, chunk.data(), chunk.size()));
      events.Set(events.Length(), ev);
    }
    body_.chunks.clear();
  }

  // Appends the event of one step; true when parsing this input is over.
  bool Report(Napi::Env env, Napi::Array events, Http1RequestParser::Status status, const uint8_t* rest,
              size_t restLen) {
    using Status = Http1RequestParser::Status;
    Napi::Object ev = Napi::Object::New(env);
    switch (status) {
      case Status::kNeedMore:
        return true;
      case Status::kHead: {
        const Http1Head& h = parser_->head();
        ev.Set("kind", "head");
        ev.Set("method", h.method);
        ev.Set("target", Latin1(env, h.target));
        ev.Set("versionMajor", h.versionMajor);
        ev.Set("versionMinor", h.versionMinor);
        ev.Set("headers", Strings(env, h.headers));
        ev.Set("keepAlive", h.keepAlive);
        ev.Set("upgrade", h.upgrade);
        ev.Set("expectContinue", h.expectContinue);
        ev.Set("body", static_cast<uint32_t>(h.body));
        ev.Set("contentLength", static_cast<double>(h.contentLength));
        ev.Set("headBytes", static_cast<double>(h.headBytes));
        events.Set(events.Length(), ev);
        return false;
      }
      case Status::kMessageEnd:
        ev.Set("kind", "end");
        ev.Set("trailers", Strings(env, parser_->trailers()));
        events.Set(events.Length(), ev);
        return false;
      case Status::kUpgrade:
        ev.Set("kind", "upgrade");
        ev.Set("rest", Napi::Buffer<uint8_t>::Copy(env, rest == nullptr ? reinterpret_cast<const uint8_t*>("") : rest, restLen));
        events.Set(events.Length(), ev);
        return true;
      case Status::kError: {
        const Http1Error& e = parser_->error();
        ev.Set("kind", "error");
        ev.Set("status", e.status);
        ev.Set("code", e.code);
        ev.Set("name", e.name);
        ev.Set("reason", e.reason);
        ev.Set("offset", static_cast<double>(e.offset));
        events.Set(events.Length(), ev);
        return true;
      }
    }
    return true;
  }

  BodyCollector body_;
  std::unique_ptr<Http1RequestParser> parser_;
};

}  // namespace

Napi::Function Http1ParserClass(Napi::Env env) { return Http1ParserWrap::Init(env); }

}  // namespace engine
}  // namespace meshgate
