// The engine's HTTP/1 app side (docs/native-http.md, stage 2): an app connection the outbound
// listener detected as HTTP/1 is handed over (a dup of its fd plus the bytes detection read), and
// from then on the engine parses its requests with llhttp (http1-parser.h), asks JavaScript once
// per request head where it goes, sends it on a native peer session's stream, and writes the
// response back as HTTP/1, with no JavaScript per chunk either way. At the end of each exchange
// one record goes to JavaScript (batched per loop turn) for metrics, logs and the balancer.
//
// JavaScript answers a head with forward(), answer() or handBack(); it may take its time (an
// endpoint or a session not ready yet): the connection reads nothing more until it does. A
// hand-back returns the bytes of the request and everything read after it; JavaScript's own
// socket (kept paused on the same descriptor) then serves the connection with node:http.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <napi.h>
#include <uv.h>

#include "engine.h"
#include "http1-parser.h"

namespace meshgate {
namespace engine {

// Event kinds of an AppHost (APP_EVENT in transports/h2-native/http-front.ts).
enum AppEventKind : int32_t {
  kAppHead = 20,    // a request head: strings = [method, target, "major.minor", name, value, ...]; flag = HeadFlags
  kAppDone = 21,    // an exchange is over: stream = token (0: answered by the engine before JS saw a head), code = status,
                    // strings = [failure, peer error, message], nums = [request bytes, response bytes, head ms, total ms]
  kAppClosed = 22,  // the connection is gone (JavaScript closes its paused socket)
  kAppRefused = 26, // the peer refused a forwarded body-less request unprocessed (REFUSED_STREAM, or
                    // a GOAWAY below its stream): stream = token; the head waits for forward() again
};

// Bits of kAppHead's flag.
enum AppHeadFlags : int32_t {
  kHeadKeepAlive = 1,
  kHeadUpgrade = 2,
  // 4 was `expect: 100-continue`, for JS to hand the request back; the engine answers it itself.
  kHeadHasBody = 8,
};

// Bits of kAppDone's flag.
enum AppDoneFlags : int32_t {
  kDoneHeadSent = 1,    // the response head reached the app
  kDoneClientGone = 2,  // the app went away first (says nothing about the endpoint)
  kDoneBeforeHead = 4,  // the failure came before any response head from the peer
};

// An exchange's record (kAppDone).
Event DoneEvent(uint32_t conn, uint32_t token, int status, int32_t flags, const std::string& failure, const std::string& peerError,
                const std::string& message, uint64_t requestBytes, uint64_t responseBytes, double headMs, double totalMs);

struct AppOptions {
  Http1Limits limits;
  uint64_t headerReadMs = 10000;  // a started head must complete within this (408 E_HEADER_TIMEOUT)
  uint64_t keepAliveMs = 5000;    // an idle keep-alive connection closes after this
  uint32_t maxRequests = 0;       // requests per connection, the last one answered with connection: close (0: no limit)
};

class AppHost;
class AppH2cConn;

class AppConn final : public Http1BodySink, public StreamRelay {
 public:
  AppConn(AppHost* host, uint32_t id);
  ~AppConn() override;
  int Adopt(int fd, std::vector<uint8_t>&& initial);

  uint32_t id() const { return id_; }
  bool deciding() const { return state_ == State::kDeciding; }
  bool closing() const { return closing_; }

  // JavaScript's answers to a head (only while deciding()).
  // 0: sent; 2: the session cannot take a stream now (nothing changed).
  int Forward(Session* session, const std::vector<std::string>& fields, uint64_t requestMs, uint64_t idleMs, uint32_t token);
  void Answer(std::vector<uint8_t>&& bytes, bool close);
  // The connection is JavaScript's: a new descriptor for it (-1 on failure) and the bytes of the
  // request head and after, to read first.
  int HandBack(std::vector<uint8_t>* bytes);
  void Drain();                     // the listener closes: end after the current exchange
  void CloseNow();
  void Process();  // runs the parser over what was read, as far as the state allows

  // Http1BodySink
  void OnBody(const uint8_t* data, size_t len) override;
  // StreamRelay
  void OnRelayHeaders(std::vector<std::string>&& headers, bool informational, bool trailers) override;
  void OnRelayData(const uint8_t* data, size_t len) override;
  void OnRelayEnd() override;
  void OnRelayBodyTaken() override;
  void OnRelayClosed(uint32_t h2code, bool sessionGone) override;

 private:
  enum class State { kHead, kDeciding, kForwarding, kClosed };

  static void OnAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void OnRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void OnWrite(uv_write_t* req, int status);
  static void OnTimer(uv_timer_t* t);

  void ReadOn();
  void ReadOff();
  void ArmTimer();
  void Write(std::vector<uint8_t>&& bytes, size_t credit);

 public:
  void FlushWrites();  // the host's check phase: what Write() corked this turn, in one write

 private:
  void WriteHead(int status, const std::vector<std::string>& fields);
  void WriteErrorAnswer(int status, const std::string& code, const std::string& message);
  void Fail(const std::string& code, const std::string& message, int status, bool clientGone, int64_t resetCode);
  void MaybeFinish();
  void Record(const std::string& failure, const std::string& reason, int32_t extraFlags);
  void RecordEarly(const std::string& code, const std::string& message);
  void EndExchange();
  void Detach(int64_t resetCode);
  void CloseAfterWrites();
  bool LastAllowed() const;
  void CloseHandles();

  AppHost* host_;
  uint32_t id_;
  uv_tcp_t tcp_;
  uv_timer_t timer_;
  int handles_ = 0;
  bool closing_ = false;     // closing after the pending writes
  bool handlesClosed_ = false;
  bool reading_ = false;
  bool eof_ = false;         // the app shut its sending side
  bool draining_ = false;
  State state_ = State::kHead;
  Http1RequestParser parser_;
  std::vector<uint8_t> in_;  // bytes read and not yet consumed by the parser (from in_[parsed_])
  size_t parsed_ = 0;
  size_t writesPending_ = 0;   // corked and in-flight bytes
  std::vector<uint8_t> corked_;
  size_t corkedCredit_ = 0;
  bool flushScheduled_ = false;
  uint64_t headerStartMs_ = 0;  // 0: no byte of the next head yet
  uint64_t idleSinceMs_ = 0;
  // The exchange being forwarded.
  Session* session_ = nullptr;
  int32_t sid_ = -1;
  uint32_t token_ = 0;
  bool exchange_ = false;
  bool resent_ = false;  // this request was refused once and given back to JS (kAppRefused)
  bool requestDone_ = false;
  bool responseDone_ = false;
  bool headSent_ = false;
  bool chunked_ = false;
  bool noBody_ = false;
  bool keepAlive_ = true;
  bool headRequest_ = false;
  bool bodyPaused_ = false;   // reads stopped: the stream's send queue is full
  int status_ = 0;
  uint64_t requestMs_ = 0;
  uint64_t idleMs_ = 0;
  uint64_t startNs_ = 0;
  uint64_t headNs_ = 0;
  uint64_t lastActivityMs_ = 0;
  uint64_t requestBytes_ = 0;
  uint64_t responseBytes_ = 0;
  std::string peerError_;
  std::vector<std::string> trailers_;
};

class AppHost {
 public:
  AppHost(const Napi::CallbackInfo& info, void* wrap);
  ~AppHost();
  const std::string& initError() const { return initError_; }
  void WrapperGone();
  void Detach() { wrap_ = nullptr; }
  void Shutdown();

  uv_loop_t* loop() const { return loop_; }
  const AppOptions& options() const { return options_; }
  uint8_t* readBuffer() { return readBuffer_.data(); }
  size_t readBufferSize() const { return readBuffer_.size(); }
  void Push(Event&& ev);
  void ConnClosed(AppConn* conn);  // its handles are closed: delete it
  void Forget(AppConn* conn);      // no more events about it (handed back)
  // h2c connections (app-h2c.h): output to flush at the next pump; handles closed (delete it).
  void MarkH2cDirty(AppH2cConn* conn);
  void ScheduleFlush(AppConn* conn);  // FlushWrites() at this loop turn's check phase
  void H2cClosed(AppH2cConn* conn);

  // JS methods.
  Napi::Value Adopt(const Napi::CallbackInfo& info);
  Napi::Value Forward(const Napi::CallbackInfo& info);
  Napi::Value Answer(const Napi::CallbackInfo& info);
  Napi::Value HandBack(const Napi::CallbackInfo& info);
  Napi::Value Drain(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Count(const Napi::CallbackInfo& info);
  Napi::Value AdoptH2c(const Napi::CallbackInfo& info);
  Napi::Value ForwardStream(const Napi::CallbackInfo& info);
  Napi::Value AnswerStream(const Napi::CallbackInfo& info);
  Napi::Value RefuseStream(const Napi::CallbackInfo& info);

 private:
  AppConn* Find(const Napi::CallbackInfo& info);
  AppH2cConn* FindH2c(const Napi::CallbackInfo& info);
  void FlushH2c();
  void Pump();
  static void OnIdle(uv_idle_t* h);
  static void OnCheck(uv_check_t* h);
  void HandleClosed();

  Napi::Env env_;
  void* wrap_;
  std::string initError_;
  bool teardown_ = false;
  bool closed_ = false;
  bool pumping_ = false;
  Napi::FunctionReference emit_;
  Napi::ObjectReference self_;
  std::unique_ptr<Napi::AsyncContext> async_;
  uv_loop_t* loop_ = nullptr;
  uv_idle_t idle_;
  uv_check_t check_;
  std::vector<AppConn*> toFlush_;
  int openHandles_ = 0;
  AppOptions options_;
  uint32_t nextId_ = 1;
  std::unordered_map<uint32_t, AppConn*> conns_;
  std::unordered_map<uint32_t, AppH2cConn*> h2c_;
  std::vector<AppH2cConn*> dirtyH2c_;
  std::vector<Event> events_;
  std::vector<Event> spareEvents_;  // Pump's spare for events_
  std::vector<uint8_t> readBuffer_;
};

// The engine a JS Engine object wraps (checked by type tag), or null (addon.cc).
Engine* EngineFromValue(Napi::Value v);

}  // namespace engine
}  // namespace meshgate
