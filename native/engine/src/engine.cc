// The engine: options, the TCP listener (server) or outgoing sessions (client), the JS methods,
// and the pump that flushes sessions and delivers events to JS in one batch.
#include "engine.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>

#include "splice.h"
#include "workload-h2c.h"
#include "workload-http1.h"
#include "../../src/napi-args.h"

namespace meshgate {
namespace engine {

void DetachEngineWrap(void* wrap);

namespace {

double GetNumber(const Napi::Object& o, const char* key, double fallback) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : fallback;
}
bool GetBool(const Napi::Object& o, const char* key, bool fallback) {
  Napi::Value v = o.Get(key);
  return v.IsBoolean() ? v.As<Napi::Boolean>().Value() : fallback;
}
std::string GetString(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
}
std::vector<std::string> GetStrings(const Napi::Value& v) {
  std::vector<std::string> out;
  if (!v.IsArray()) return out;
  Napi::Array a = v.As<Napi::Array>();
  out.reserve(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) out.push_back(a.Get(i).ToString().Utf8Value());
  return out;
}
double GetNumberArg(const Napi::CallbackInfo& info, size_t i) {
  return info.Length() > i && info[i].IsNumber() ? info[i].As<Napi::Number>().DoubleValue() : 0;
}
Napi::Value Fail(Napi::Env env, const std::string& message) {
  Napi::Error::New(env, message).ThrowAsJavaScriptException();
  return env.Undefined();
}

// TLS 1.3 only, as the JS transport (transports/h2/tls.ts).
const char kPriority[] = "NORMAL:-VERS-ALL:+VERS-TLS1.3";

// The certificate verify function of every credentials set: the session's PeerCheck decides.
int VerifyPeer(gnutls_session_t session) {
  auto* check = static_cast<PeerCheck*>(gnutls_session_get_ptr(session));
  return check == nullptr ? GNUTLS_E_CERTIFICATE_ERROR : VerifyPeerCertificate(session, check);
}

}  // namespace

uint32_t H2CodeFromJs(uint64_t code) {
  switch (code) {
    case 0x100: return NGHTTP2_NO_ERROR;
    case 0x101: return NGHTTP2_PROTOCOL_ERROR;
    case 0x102: return NGHTTP2_INTERNAL_ERROR;
    case 0x10b: return NGHTTP2_REFUSED_STREAM;
    case 0x10c: return NGHTTP2_CANCEL;
    case 0x10f: return NGHTTP2_CONNECT_ERROR;
    default: return code <= 0xd ? static_cast<uint32_t>(code) : static_cast<uint32_t>(NGHTTP2_INTERNAL_ERROR);
  }
}

uint64_t JsCodeFromH2(uint32_t code) {
  switch (code) {
    case NGHTTP2_NO_ERROR: return 0x100;
    case NGHTTP2_PROTOCOL_ERROR: return 0x101;
    case NGHTTP2_REFUSED_STREAM: return 0x10b;
    case NGHTTP2_CANCEL: return 0x10c;
    case NGHTTP2_CONNECT_ERROR: return 0x10f;
    case NGHTTP2_ENHANCE_YOUR_CALM: return 0x107;  // H3_EXCESSIVE_LOAD
    default: return 0x102;
  }
}

bool ParseAddress(const std::string& host, int port, sockaddr_storage* out) {
  memset(out, 0, sizeof(*out));
  auto* v4 = reinterpret_cast<sockaddr_in*>(out);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(out);
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    return true;
  }
  return false;
}

Engine::Engine(const Napi::CallbackInfo& info, void* wrap) : env_(info.Env()), wrap_(wrap) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction()) {
    initError_ = "new Engine(options, emit)";
    return;
  }
  Napi::Object o = info[0].As<Napi::Object>();
  emit_ = Napi::Persistent(info[1].As<Napi::Function>());
  async_ = std::make_unique<Napi::AsyncContext>(env, "meshgate:engine");
  server_ = GetBool(o, "server", false);
  settings_.maxConcurrentStreams = static_cast<uint32_t>(GetNumber(o, "maxStreams", settings_.maxConcurrentStreams));
  settings_.streamWindow = static_cast<int32_t>(GetNumber(o, "maxStreamData", settings_.streamWindow));
  settings_.connectionWindow = static_cast<int32_t>(GetNumber(o, "maxData", settings_.connectionWindow));
  settings_.maxHeaderListBytes = static_cast<uint32_t>(GetNumber(o, "maxHeaderListBytes", settings_.maxHeaderListBytes));
  settings_.keepAliveMs = static_cast<uint64_t>(GetNumber(o, "keepAliveMs", static_cast<double>(settings_.keepAliveMs)));
  settings_.keepAliveTimeoutMs = static_cast<uint64_t>(GetNumber(o, "keepAliveTimeoutMs", static_cast<double>(settings_.keepAliveTimeoutMs)));
  settings_.handshakeTimeoutMs = static_cast<uint64_t>(GetNumber(o, "handshakeTimeoutMs", static_cast<double>(settings_.handshakeTimeoutMs)));
  settings_.sendHighWater = static_cast<size_t>(GetNumber(o, "sendHighWater", static_cast<double>(settings_.sendHighWater)));
  settings_.prematureResetMinStreams = static_cast<uint32_t>(GetNumber(o, "prematureResetMinStreams", settings_.prematureResetMinStreams));
  requireClientCert_ = GetBool(o, "requireClientCert", true);

  std::string error;
  cred_ = Credentials::Load(GetString(o, "ca"), GetString(o, "cert"), GetString(o, "key"), VerifyPeer, &error);
  if (!cred_) {
    initError_ = "TLS: " + error;
    return;
  }
  int rv = gnutls_priority_init(&priority_, kPriority, nullptr);
  if (rv < 0) {
    initError_ = std::string("TLS: priority: ") + gnutls_strerror(rv);
    return;
  }

  napi_get_uv_event_loop(env, &loop_);
  uv_idle_init(loop_, &idle_);
  idle_.data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(&idle_));
  // The pump runs at this loop turn's check phase, right after the I/O callbacks that made the
  // work (a response read from a workload goes out in the same turn), or at the idle phase of the
  // next one for work made elsewhere (timers, JS calls between turns), whichever comes first.
  uv_check_init(loop_, &check_);
  check_.data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(&check_));
  openHandles_ = 2;
  self_ = Napi::Persistent(info.This().As<Napi::Object>());
  if (!server_) return;
  std::string host = GetString(o, "host");
  if (host.empty()) host = "127.0.0.1";
  sockaddr_storage addr;
  if (!ParseAddress(host, static_cast<int>(GetNumber(o, "port", 0)), &addr)) {
    initError_ = "host must be an IP address: " + host;
    return;
  }
  uv_tcp_init(loop_, &listener_);
  listener_.data = this;
  ++openHandles_;
  listenerOpen_ = true;
  rv = uv_tcp_bind(&listener_, reinterpret_cast<sockaddr*>(&addr), 0);
  if (rv == 0) rv = uv_listen(reinterpret_cast<uv_stream_t*>(&listener_), 511, OnConnection);
  if (rv != 0) {
    initError_ = "listen " + host + ":" + std::to_string(static_cast<int>(GetNumber(o, "port", 0))) + ": " + uv_err_name(rv) + " (" + uv_strerror(rv) + ")";
    return;
  }
  accepting_ = true;
}

Engine::~Engine() {
  for (StreamRelay* e : retired_) delete e;
  if (priority_ != nullptr) gnutls_priority_deinit(priority_);
  if (teardown_) {
    emit_.SuppressDestruct();
    self_.SuppressDestruct();
    async_.release();
  }
}

void Engine::WrapperGone() {
  wrap_ = nullptr;
  teardown_ = true;
  if (!closed_) Shutdown();
  // The wrapper's finalizer runs while the environment still exists (at its teardown: self_
  // keeps the wrapper alive until then); the engine is deleted only once its handles have
  // closed, maybe after the environment is gone. Let go of the JS references now.
  emit_.Reset();
  self_.Reset();
  async_.reset();
}

void Engine::OnConnection(uv_stream_t* server, int status) {
  auto* self = static_cast<Engine*>(server->data);
  if (status != 0 || self->closed_) return;
  auto* s = new Session(self, self->nextId_++, true);
  self->sessions_[s->id()] = s;
  ++self->openHandles_;
  if (!self->accepting_ || s->Accept(server) != 0) {
    s->Kill(1, 0, "not accepting");
    self->events_.pop_back();  // nobody to tell about a connection JS never saw
  } else if (!self->refed_) {
    s->SetRef(false);
  }
  self->Pump();
}

void Engine::Push(Event&& ev) {
  events_.push_back(std::move(ev));
  if (!pumping_ && !closed_) SchedulePump();
}

void Engine::MarkDirty(Session* s) {
  dirty_.push_back(s);
  if (!pumping_ && !closed_) SchedulePump();
}

void Engine::SchedulePump() {
  uv_idle_start(&idle_, OnIdle);
  uv_check_start(&check_, OnCheck);
}

void Engine::OnIdle(uv_idle_t* h) {
  auto* self = static_cast<Engine*>(h->data);
  self->Pump();
}

void Engine::OnCheck(uv_check_t* h) {
  auto* self = static_cast<Engine*>(h->data);
  self->Pump();
}

void Engine::Pump() {
  if (pumping_) return;
  pumping_ = true;
  for (int round = 0; round < 16; ++round) {
    // The lists swap with spares that keep their capacity: no allocation per loop turn.
    flushing_.swap(dirty_);
    for (Session* s : flushing_) {
      if (!s->dead()) s->Flush();
    }
    flushing_.clear();
    if (!events_.empty()) DeliverEvents();
    if (dirty_.empty() && events_.empty()) break;
  }
  Reap();
  if (!retired_.empty()) {
    std::vector<StreamRelay*> retired;
    retired.swap(retired_);
    for (StreamRelay* e : retired) delete e;
    retired.clear();
    if (retired_.empty()) retired_.swap(retired);  // its capacity back: no allocation per loop turn
  }
  pumping_ = false;
  if (!closed_) {
    if (dirty_.empty() && events_.empty()) {
      uv_idle_stop(&idle_);
      uv_check_stop(&check_);
    } else {
      SchedulePump();
    }
  }
}

void Engine::DeliverEvents() {
  if (teardown_ || self_.IsEmpty()) {
    events_.clear();
    return;
  }
  Napi::Env env = env_;
  Napi::HandleScope scope(env);
  Napi::Object self = self_.Value();
  std::vector<Event> events;
  events.swap(spareEvents_);
  events.swap(events_);
  std::vector<double> delivered;
  std::string deliveredText;
  for (Event& ev : events) {
    if (ev.kind == kEventDelivered) {
      if (delivered.capacity() == 0) {
        // Room for a record per event, once a batch has one (most batches of data events have none).
        delivered.reserve(events.size() * (8 + kDeliveredStrings));
        deliveredText.reserve(events.size() * 96);
      }
      delivered.insert(delivered.end(), {static_cast<double>(ev.conn), static_cast<double>(ev.stream), static_cast<double>(ev.code),
                                         static_cast<double>(ev.flag)});
      for (size_t i = 0; i < kDeliveredStrings; ++i) {
        delivered.push_back(static_cast<double>(ev.strings[i].size()));
        deliveredText += ev.strings[i];
      }
      delivered.insert(delivered.end(), ev.nums, ev.nums + 4);
      continue;
    }
    // The records go before any other event, so JS sees every event in the order it happened.
    if (!delivered.empty()) {
      EmitDelivered(&delivered, &deliveredText);
      if (teardown_) return;
    }
    napi_value payload;
    if (ev.kind == kEventData) {
      payload = Napi::Buffer<uint8_t>::Copy(env, ev.data.data(), ev.data.size());
    } else if (!ev.strings.empty() || ev.kind == kEventHeaders || ev.kind == kEventHandshake || ev.kind == kEventClose) {
      Napi::Array a = Napi::Array::New(env, ev.strings.size());
      for (uint32_t i = 0; i < ev.strings.size(); ++i) a.Set(i, Napi::String::New(env, ev.strings[i]));
      payload = a;
    } else {
      payload = env.Undefined();
    }
    Napi::Value ret = emit_.MakeCallback(
        self,
        {Napi::Number::New(env, ev.kind), Napi::Number::New(env, ev.conn), Napi::Number::New(env, ev.stream),
         Napi::Number::New(env, static_cast<double>(ev.code)), Napi::Number::New(env, ev.flag), payload},
        *async_);
    bool wantMore = true;
    if (env.IsExceptionPending()) {
      Napi::Error err = env.GetAndClearPendingException();
      napi_fatal_exception(env, err.Value());
    } else if (!ret.IsEmpty()) {
      wantMore = ret.ToBoolean().Value();
    }
    if (ev.kind == kEventData) {
      auto it = sessions_.find(ev.conn);
      if (it != sessions_.end() && !it->second->dead()) it->second->DataDelivered(ev.stream, ev.data.size(), wantMore);
    }
    if (teardown_) return;
  }
  if (!delivered.empty()) EmitDelivered(&delivered, &deliveredText);
  if (teardown_) return;
  events.clear();
  spareEvents_.swap(events);
}

void Engine::EmitDelivered(std::vector<double>* nums, std::string* text) {
  Napi::Env env = env_;
  Napi::HandleScope scope(env);
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, nums->size() * sizeof(double));
  std::memcpy(buffer.Data(), nums->data(), nums->size() * sizeof(double));
  napi_value latin1;
  if (napi_create_string_latin1(env, text->data(), text->size(), &latin1) != napi_ok) latin1 = env.Undefined();
  Napi::Value zero = Napi::Number::New(env, 0);
  emit_.MakeCallback(self_.Value(),
                     {Napi::Number::New(env, kEventDelivered), zero, zero, zero, zero, Napi::Float64Array::New(env, nums->size(), buffer, 0),
                      Napi::Value(env, latin1)},
                     *async_);
  if (env.IsExceptionPending()) {
    Napi::Error err = env.GetAndClearPendingException();
    napi_fatal_exception(env, err.Value());
  }
  nums->clear();
  text->clear();
}

void Engine::Reap() {
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (it->second->dead()) it = sessions_.erase(it);
    else ++it;
  }
}

void Engine::SessionHandlesClosed(Session* s) {
  // A session killed outside Pump() (a JS closeConnection) can close its handles before Reap()
  // ran: nothing may keep the pointer past here.
  auto it = sessions_.find(s->id());
  if (it != sessions_.end() && it->second == s) sessions_.erase(it);
  dirty_.erase(std::remove(dirty_.begin(), dirty_.end(), s), dirty_.end());
  delete s;
  HandleClosed();
}

void Engine::HandleClosed() {
  if (--openHandles_ > 0) return;
  if (wrap_ != nullptr) DetachEngineWrap(wrap_);
  if (!teardown_) self_.Reset();
  delete this;
}

void Engine::OnHandleClosed(uv_handle_t* h) {
  static_cast<Engine*>(h->data)->HandleClosed();
}

void Engine::Shutdown() {
  if (closed_) return;
  if (loop_ == nullptr) {
    // The constructor failed before it opened a handle (bad arguments, credentials that do not
    // load): nothing to close or wait for.
    closed_ = true;
    delete this;
    return;
  }
  stopping_ = true;
  for (auto& entry : sessions_) entry.second->Close(0x100, false);
  for (auto& entry : pools_) entry.second->CloseIdle();
  for (auto& entry : h2cPools_) entry.second->CloseAll();
  if (!events_.empty() && !pumping_ && !teardown_) {
    pumping_ = true;
    DeliverEvents();
    pumping_ = false;
  }
  closed_ = true;
  dirty_.clear();
  Reap();
  if (server_ && listenerOpen_) {
    listenerOpen_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), OnHandleClosed);
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&idle_), OnHandleClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(&check_), OnHandleClosed);
}

Session* Engine::Find(const Napi::CallbackInfo& info, size_t index) {
  if (info.Length() <= index || !info[index].IsNumber()) return nullptr;
  auto it = sessions_.find(info[index].As<Napi::Number>().Uint32Value());
  if (it == sessions_.end() || it->second->dead()) return nullptr;
  return it->second;
}

Napi::Value Engine::Address(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object out = Napi::Object::New(env);
  if (!server_) return out;
  sockaddr_storage addr;
  int len = sizeof(addr);
  uv_tcp_getsockname(&listener_, reinterpret_cast<sockaddr*>(&addr), &len);
  char host[INET6_ADDRSTRLEN] = {0};
  int port = 0;
  if (addr.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&addr);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof(host));
    port = ntohs(a->sin6_port);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&addr);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof(host));
    port = ntohs(a->sin_port);
  }
  out.Set("host", host);
  out.Set("port", port);
  out.Set("family", addr.ss_family == AF_INET6 ? "IPv6" : "IPv4");
  return out;
}

// connect({host, port, servername, expectedIdentity}) → session id
Napi::Value Engine::Connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (server_) return Fail(env, "connect() on a server engine");
  if (info.Length() < 1 || !info[0].IsObject()) return Fail(env, "connect(options)");
  Napi::Object o = info[0].As<Napi::Object>();
  sockaddr_storage addr;
  std::string host = GetString(o, "host");
  if (!ParseAddress(host, static_cast<int>(GetNumber(o, "port", 0)), &addr)) return Fail(env, "host must be an IP address: " + host);
  auto* s = new Session(this, nextId_++, false);
  sessions_[s->id()] = s;
  ++openHandles_;
  if (!refed_) s->SetRef(false);
  int rv = s->Connect(reinterpret_cast<sockaddr*>(&addr), GetString(o, "servername"), GetString(o, "expectedIdentity"));
  if (rv != 0) s->Kill(1, 0, std::string("connect failed: ") + uv_err_name(rv));
  return Napi::Number::New(env, s->id());
}

Napi::Value Engine::Request(const Napi::CallbackInfo& info) {
  Session* s = Find(info, 0);
  if (s == nullptr || !s->ready()) return Fail(info.Env(), "session is closed");
  int32_t sid = s->Request(GetStrings(info[1]), info[2].ToBoolean().Value());
  if (sid == -1) return Fail(info.Env(), "session is closing");
  return Napi::Number::New(info.Env(), sid);
}

Napi::Value Engine::Respond(const Napi::CallbackInfo& info) {
  Session* s = Find(info, 0);
  if (s != nullptr && s->ready()) s->Respond(info[1].As<Napi::Number>().Int32Value(), GetStrings(info[2]), info[3].ToBoolean().Value());
  return info.Env().Undefined();
}

// write(conn, stream, chunks | null, end, trailers?) → below the high-water mark
Napi::Value Engine::Write(const Napi::CallbackInfo& info) {
  Session* s = Find(info, 0);
  if (s == nullptr || !s->ready()) return Napi::Boolean::New(info.Env(), true);
  std::vector<std::vector<uint8_t>> chunks;
  if (info[2].IsArray()) {
    Napi::Array a = info[2].As<Napi::Array>();
    chunks.reserve(a.Length());
    for (uint32_t i = 0; i < a.Length(); ++i) {
      Napi::Value v = a.Get(i);
      if (!v.IsTypedArray()) continue;
      Napi::Uint8Array b = v.As<Napi::Uint8Array>();
      chunks.emplace_back(b.Data(), b.Data() + b.ByteLength());
    }
  }
  bool end = info.Length() > 3 && info[3].ToBoolean().Value();
  std::vector<std::string> trailers = info.Length() > 4 ? GetStrings(info[4]) : std::vector<std::string>();
  bool ok = s->Write(info[1].As<Napi::Number>().Int32Value(), std::move(chunks), end, std::move(trailers));
  return Napi::Boolean::New(info.Env(), ok);
}

Napi::Value Engine::ResumeRead(const Napi::CallbackInfo& info) {
  Session* s = Find(info, 0);
  if (s != nullptr && s->ready()) s->ResumeRead(info[1].As<Napi::Number>().Int32Value());
  return info.Env().Undefined();
}

Napi::Value Engine::ResetStream(const Napi::CallbackInfo& info) {
  Session* s = Find(info, 0);
  if (s != nullptr && s->ready()) {
    uint64_t code = info.Length() > 2 && info[2].IsNumber() ? static_cast<uint64_t>(info[2].As<Napi::Number>().Int64Value()) : 0x10c;
    s->ResetStream(info[1].As<Napi::Number>().Int32Value(), code);
  }
  return info.Env().Undefined();
}

Napi::Value Engine::CloseConnection(const Napi::CallbackInfo& info) {
  Session* s = Find(info, 0);
  if (s != nullptr) {
    uint64_t code = info[1].IsNumber() ? static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value()) : 0x100;
    s->Close(code, info[2].ToBoolean().Value());
  }
  return info.Env().Undefined();
}

Napi::Value Engine::Stats(const Napi::CallbackInfo& info) {
  Session* s = Find(info, 0);
  if (s == nullptr) return info.Env().Undefined();
  Napi::Object o = Napi::Object::New(info.Env());
  s->FillStats(o);
  return o;
}

// streamsLeft(conn) → streams that may open now (the pool asks per request: no stats object)
Napi::Value Engine::StreamsLeft(const Napi::CallbackInfo& info) {
  Session* s = Find(info, 0);
  return Napi::Number::New(info.Env(), s == nullptr || !s->ready() ? 0 : s->streamsLeft());
}

Napi::Value Engine::Close(const Napi::CallbackInfo& info) {
  Shutdown();
  return info.Env().Undefined();
}

Napi::Value Engine::SetRef(const Napi::CallbackInfo& info) {
  refed_ = info[0].ToBoolean().Value();
  if (server_ && listenerOpen_) {
    if (refed_) uv_ref(reinterpret_cast<uv_handle_t*>(&listener_));
    else uv_unref(reinterpret_cast<uv_handle_t*>(&listener_));
  }
  for (auto& entry : sessions_) entry.second->SetRef(refed_);
  return info.Env().Undefined();
}

Napi::Value Engine::StopAccepting(const Napi::CallbackInfo& info) {
  accepting_ = false;
  if (server_ && listenerOpen_) {
    listenerOpen_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), OnHandleClosed);
  }
  return info.Env().Undefined();
}

// setCredentials({ ca, cert, key }): handshakes from now on (accepted and dialled) use these;
// sessions already set up keep the credentials they started with until they end. Throws, and
// keeps the current ones, when the PEM does not load.
Napi::Value Engine::SetCredentials(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsObject()) return Fail(info.Env(), "setCredentials({ ca, cert, key })");
  Napi::Object o = info[0].As<Napi::Object>();
  std::string error;
  std::shared_ptr<Credentials> next =
      Credentials::Load(GetString(o, "ca"), GetString(o, "cert"), GetString(o, "key"), VerifyPeer, &error);
  if (!next) return Fail(info.Env(), "TLS: " + error);
  cred_ = std::move(next);
  return info.Env().Undefined();
}

// spliceFd(conn, stream, fd, toPeer: Buffer | null, idleMs, start = 0, toSocket: Buffer | null)
Napi::Value Engine::SpliceFd(const Napi::CallbackInfo& info) {
  Session* s = Find(info, 0);
  if (s == nullptr || !s->ready()) return Fail(info.Env(), "session is closed");
  auto start = static_cast<SpliceStartMode>(static_cast<int32_t>(GetNumberArg(info, 5)));
  if (start < kStartOnAnswer || start > kStartNow) return Fail(info.Env(), "spliceFd: start must be 0, 1 or 2");
  std::string error;
  if (!s->SpliceFd(info[1].As<Napi::Number>().Int32Value(), info[2].As<Napi::Number>().Int32Value(),
                   BytesArg(info, 3), static_cast<uint64_t>(GetNumberArg(info, 4)), start, BytesArg(info, 6), &error)) {
    return Fail(info.Env(), error);
  }
  Pump();
  return info.Env().Undefined();
}

// spliceStart(conn, stream, toSocket: Buffer | null) — after spliceFd(…, start = 1)
Napi::Value Engine::SpliceStart(const Napi::CallbackInfo& info) {
  Session* s = Find(info, 0);
  if (s == nullptr || !s->ready()) return Fail(info.Env(), "session is closed");
  if (!s->SpliceStart(info[1].As<Napi::Number>().Int32Value(), BytesArg(info, 2))) return Fail(info.Env(), "no splice on that stream");
  Pump();
  return info.Env().Undefined();
}

// spliceConnect(conn, stream, host, port, connectMs, idleMs) — inbound
Napi::Value Engine::SpliceConnect(const Napi::CallbackInfo& info) {
  Session* s = Find(info, 0);
  if (s == nullptr || !s->ready()) return Fail(info.Env(), "session is closed");
  sockaddr_storage addr;
  std::string host = info[2].ToString().Utf8Value();
  if (!ParseAddress(host, info[3].As<Napi::Number>().Int32Value(), &addr)) return Fail(info.Env(), "target must be an IP address: " + host);
  std::string error;
  if (!s->SpliceConnect(info[1].As<Napi::Number>().Int32Value(), reinterpret_cast<sockaddr*>(&addr),
                        static_cast<uint64_t>(GetNumberArg(info, 4)), static_cast<uint64_t>(GetNumberArg(info, 5)), &error)) {
    return Fail(info.Env(), error);
  }
  Pump();
  return info.Env().Undefined();
}

WorkloadPool* Engine::PoolFor(const NativeTarget& target) {
  if (workloadReadBuffer_.empty()) workloadReadBuffer_.resize(64 * 1024);
  auto it = pools_.find(target.address);
  if (it != pools_.end()) {
    it->second->Update(target);
    return it->second.get();
  }
  auto pool = std::make_unique<WorkloadPool>(this, target);
  WorkloadPool* out = pool.get();
  pools_[target.address] = std::move(pool);
  return out;
}

int WriteOrQueue(uv_stream_t* stream, const uint8_t* data, size_t len, void* owner, size_t credit, uv_write_cb cb, size_t* queued) {
  *queued = 0;
  uv_buf_t buf = uv_buf_init(reinterpret_cast<char*>(const_cast<uint8_t*>(data)), static_cast<unsigned>(len));
  int n = uv_try_write(stream, &buf, 1);
  if (n < 0 && n != UV_EAGAIN) return n;
  size_t done = n > 0 ? static_cast<size_t>(n) : 0;
  if (done == len) return 0;
  auto* w = new QueuedWrite{uv_write_t{}, std::vector<uint8_t>(data + done, data + len), owner, credit};
  w->req.data = w;
  uv_buf_t rest = uv_buf_init(reinterpret_cast<char*>(w->bytes.data()), static_cast<unsigned>(w->bytes.size()));
  int rv = uv_write(&w->req, stream, &rest, 1, cb);
  if (rv != 0) {
    delete w;
    return rv;
  }
  *queued = len - done;
  return 0;
}

std::string PeerStreamEnded(uint32_t h2code, bool sessionGone) {
  return sessionGone ? "the peer session closed" : "the peer reset the stream (HTTP/2 code " + std::to_string(h2code) + ")";
}

void ArmDeadline(uv_timer_t* timer, uv_timer_cb cb, uint64_t dueMs) {
  bool armed = uv_is_active(reinterpret_cast<uv_handle_t*>(timer)) != 0;
  if (dueMs == 0) return;  // an armed timer fires once more for nothing, and is not armed again
  uint64_t now = Engine::NowMs();
  uint64_t delay = dueMs > now ? dueMs - now : 0;
  if (armed && uv_timer_get_due_in(timer) <= delay) return;
  uv_timer_start(timer, cb, delay, 0);
}

void StopReading(uv_tcp_t* tcp, bool& reading) {
  if (!reading) return;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(tcp));
  reading = false;
}

int SendPlainH2(nghttp2_session* h2, uv_stream_t* stream, std::vector<uint8_t>& tx, size_t& writesPending, size_t maxUnwritten,
                void* owner, uv_write_cb cb, bool* fromNghttp2) {
  *fromNghttp2 = false;
  tx.clear();
  while (tx.size() + writesPending < maxUnwritten && nghttp2_session_want_write(h2)) {
    const uint8_t* data = nullptr;
    ssize_t n = nghttp2_session_mem_send(h2, &data);
    if (n < 0) {
      *fromNghttp2 = true;
      return static_cast<int>(n);
    }
    if (n == 0) break;
    tx.insert(tx.end(), data, data + n);
  }
  if (tx.empty()) return 0;
  size_t queued = 0;
  int rv = WriteOrQueue(stream, tx.data(), tx.size(), owner, 0, cb, &queued);
  if (rv != 0) return rv;
  writesPending += queued;
  tx.clear();
  return 0;
}

WorkloadH2cPool* Engine::H2cPoolFor(const NativeTarget& target) {
  if (workloadReadBuffer_.empty()) workloadReadBuffer_.resize(64 * 1024);
  auto it = h2cPools_.find(target.address);
  if (it != h2cPools_.end()) {
    it->second->Update(target);
    return it->second.get();
  }
  auto pool = std::make_unique<WorkloadH2cPool>(this, target);
  WorkloadH2cPool* out = pool.get();
  h2cPools_[target.address] = std::move(pool);
  return out;
}

// allowTarget(conn, target, address, host, port, auto, connectMs, idleMs, requestMs, http2) →
// granted: the session's later requests for `target` (the meshgate-target value) are delivered
// by the engine to host:port, over HTTP/1 (workload-http1.h) or h2c (workload-h2c.h): h2c for an
// `http2` target, and for an `auto` one the requests the app did not send as HTTP/1.1. False
// when the session is gone or host is not an IP address (the JS path goes on serving them).
Napi::Value Engine::AllowTarget(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Session* s = Find(info, 0);
  if (s == nullptr || !s->ready() || !s->server() || info.Length() < 9) return Napi::Boolean::New(env, false);
  auto grant = std::make_shared<NativeTarget>();
  grant->address = info[2].ToString().Utf8Value();
  std::string host = info[3].ToString().Utf8Value();
  if (!ParseAddress(host, static_cast<int>(GetNumberArg(info, 4)), &grant->addr)) return Napi::Boolean::New(env, false);
  grant->autoProtocol = info[5].ToBoolean().Value();
  grant->connectMs = static_cast<uint64_t>(GetNumberArg(info, 6));
  grant->idleMs = static_cast<uint64_t>(GetNumberArg(info, 7));
  grant->requestMs = static_cast<uint64_t>(GetNumberArg(info, 8));
  grant->http2 = info.Length() > 9 && info[9].ToBoolean().Value();
  s->AllowTarget(info[1].ToString().Utf8Value(), std::move(grant));
  return Napi::Boolean::New(env, true);
}

// clearTargets(): every grant is withdrawn (a config change); requests in flight go on.
Napi::Value Engine::ClearTargets(const Napi::CallbackInfo& info) {
  for (auto& entry : sessions_) entry.second->ClearTargets();
  return info.Env().Undefined();
}

}  // namespace engine
}  // namespace meshgate
