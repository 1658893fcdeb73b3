// Native inbound delivery over HTTP/1 (docs/native-http.md, stage 5): a request stream arriving
// on a server session, for a target JavaScript has authorized for that session's caller, is
// delivered to the local workload by the engine itself — written as HTTP/1.1 on a keep-alive
// connection from a pool per target, the response parsed with llhttp (http1-response.h) and
// sent back on the stream — with no JavaScript per request except one record at its end.
//
// Authorization stays in JavaScript: it runs for a session's first request to a target (on the
// JS path, as before) and, when it allows it, grants the target to that session
// (Session::AllowTarget). A session's identity is fixed, so the grant holds for its life; a
// config change clears every grant (Engine::ClearTargets). The engine never connects anywhere a
// grant did not name.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <deque>
#include <initializer_list>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <uv.h>

#include "engine.h"
#include "http1-response.h"

namespace meshgate {
namespace engine {

// A target a session's caller may reach, as a grant names it.
struct NativeTarget {
  std::string address;      // host:port as configured (the pool's key and the messages' name)
  sockaddr_storage addr{};  // its IP address
  bool autoProtocol = false;  // `auto` target: HTTP/1 only for requests the app sent as HTTP/1.1, h2c for the rest
  bool http2 = false;         // `http2` target: every request over h2c (workload-h2c.h)
  uint64_t connectMs = 0;
  uint64_t idleMs = 0;
  uint64_t requestMs = 0;   // request sent → response head
};

// Bits of kEventDelivered's flag.
enum DeliveredFlags : int32_t {
  kDeliveredHeadSent = 1,   // a response head went to the peer
  kDeliveredPeerGone = 2,   // the peer reset the stream or its session ended first
};

class WorkloadPool;
class WorkloadExchange;

// The status of an error answer for a delivery failure's code (core/errors.ts's statuses).
int StatusFor(const char* code);
// A connect error that means nothing listens there (E_UPSTREAM_UNREACHABLE).
bool Unreachable(int uvError);

// What a delivery (HTTP/1 or h2c) reports at its end, as a kEventDelivered record.
struct DeliveryReport {
  uint32_t conn;
  int32_t sid;
  int status;
  bool headSent;
  bool peerGone;
  uint64_t startNs, headNs, endNs;  // head/end 0: none (now for the end)
  uint64_t requestBytes, responseBytes;
  // target, method, path, authority, requestId, errorCode, errorMessage, origProto
  std::vector<std::string> strings;
};
void PushDelivered(Engine* engine, DeliveryReport&& report);
// What both workload sides read from a granted request's fields (the last of each field counts):
// its authority is :authority, or host when that is absent or empty.
struct DeliveryHead {
  std::string method, path, authority, requestId, target, origProto;
  bool hasLength = false;  // a content-length field
};
DeliveryHead ReadDeliveryHead(const std::vector<std::string>& fields);
// The fields between the two proxies that the workload never gets (meshgate-client-id is set
// again from the verified caller).
bool MeshOnlyField(const std::string& name);
// A record's strings, moved out of the finished exchange that no longer needs them (nullptr: "").
std::vector<std::string> TakeStrings(std::initializer_list<std::string*> fields);
// The answer to a delivered request that got no response head (src/inbound's reject()): the
// status, `meshgate-error: code` and a text body (none for HEAD).
void AnswerDeliveryError(Session* session, int32_t sid, int status, const char* code, const std::string& message, bool headRequest);

// One connection to a workload: idle in its pool, or carrying one exchange at a time.
class WorkloadConn {
 public:
  explicit WorkloadConn(WorkloadPool* pool);
  void Connect();
  void Attach(WorkloadExchange* exchange) { exchange_ = exchange; }
  void Detach() { exchange_ = nullptr; }
  void Close();  // closes now (the exchange, if any, is not told: it asked for it)
  // Writes, trying at once without a copy; `credit` request body bytes are credited to the
  // peer stream once written.
  void Send(const uv_buf_t* bufs, unsigned count, size_t credit);
  size_t TakePendingCredit();  // credit of writes still in flight, handed to the caller
  void ReadOn();
  void ReadOff();
  void ArmTimer();
  void StartIdle(uint64_t keepAliveMs);
  bool connected() const { return connected_; }
  size_t writesPending() const { return writesPending_; }
  Http1ResponseParser& parser() { return parser_; }

 private:
  struct WriteReq;
  static void OnConnect(uv_connect_t* req, int status);
  static void OnAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void OnRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void OnWrite(uv_write_t* req, int status);
  static void OnTimer(uv_timer_t* t);
  // A failure: the connection closes and its exchange answers with `code`.
  void Fail(const char* code, const std::string& message);

  WorkloadPool* pool_;
  uv_tcp_t tcp_;
  uv_timer_t timer_;
  uv_connect_t connectReq_;
  int handles_ = 0;
  bool connected_ = false;
  bool closing_ = false;
  bool reading_ = false;
  bool eof_ = false;
  size_t writesPending_ = 0;
  size_t creditPending_ = 0;
  uint64_t connectStartMs_ = 0;
  uint64_t lastActivityMs_ = 0;
  uint64_t idleSinceMs_ = 0;
  uint64_t keepAliveMs_ = 0;
  WorkloadExchange* exchange_ = nullptr;
  Http1ResponseParser parser_;
  friend class WorkloadPool;
  friend class WorkloadExchange;
};

// The connections to one target.
class WorkloadPool {
 public:
  WorkloadPool(Engine* engine, const NativeTarget& target);
  ~WorkloadPool();
  Engine* engine() const { return engine_; }
  const NativeTarget& target() const { return target_; }
  void Update(const NativeTarget& target) { target_ = target; }
  // A connection for `exchange`: an idle one or a new one now, or later when one frees up.
  void Acquire(WorkloadExchange* exchange);
  void Cancel(WorkloadExchange* exchange);  // no longer waiting
  // The exchange is done with `conn`: kept for `keepAliveMs` (or handed to a waiting exchange), or closed.
  void Release(WorkloadConn* conn, bool keep, uint64_t keepAliveMs);
  void ConnClosing(WorkloadConn* conn);
  void ConnClosed(WorkloadConn* conn);  // its handles are closed: delete it
  void CloseIdle();

 private:
  void Open(WorkloadExchange* exchange);

  Engine* engine_;
  NativeTarget target_;
  std::vector<WorkloadConn*> all_;
  std::vector<WorkloadConn*> idle_;  // LIFO: the warmest first
  std::deque<WorkloadExchange*> waiting_;
  size_t open_ = 0;
};

// One request stream delivered to a workload: the session's relay for the stream.
class WorkloadExchange final : public StreamRelay, public Http1ResponseSink {
 public:
  WorkloadExchange(Session* session, int32_t sid, WorkloadPool* pool);
  // Builds the HTTP/1 request from the stream's head; false when it cannot be written as
  // HTTP/1 as it is (JavaScript then serves it, and answers it as the JS path does).
  bool Prepare(const std::vector<std::string>& fields, bool endStream, const std::string& caller);
  void Start();
  void OnConnAssigned(WorkloadConn* conn);  // a new connection, connecting
  void OnConnReady(WorkloadConn* conn);     // connected (or idle): the request goes out
  void SendHeldHead();                      // the session's read is done: a held head goes out
  void OnConnDone(bool clean);              // the response was read whole
  void OnConnFailed(const char* code, const std::string& message);
  void OnWritten(size_t credit);
  void SetWaiting(bool waiting) { waiting_ = waiting; }
  uint64_t headDeadlineMs() const;  // 0: none now

  // StreamRelay (the request, from the peer)
  void OnRelayHeaders(std::vector<std::string>&& headers, bool informational, bool trailers) override;
  void OnRelayData(const uint8_t* data, size_t len) override;
  void OnRelayEnd() override;
  void OnRelayBodyTaken() override;
  void OnRelayClosed(uint32_t h2code, bool sessionGone) override;
  // Http1ResponseSink (the response, from the workload)
  void OnResponseHead(int status, std::vector<std::string>&& fields) override;
  void OnResponseBody(const uint8_t* data, size_t len) override;
  void OnResponseEnd(std::vector<std::string>&& trailers, bool keepAlive) override;

 private:
  void MarkSent();
  void SendHead();
  void DropConn();  // conn_ closed and let go (conn_ must be set)
  void Discard();
  void Answer(int status, const char* code, const std::string& message);
  void Finish();
  void Record();

  Session* session_;             // null once the stream is gone
  uint32_t connId_;
  int32_t sid_;
  WorkloadPool* pool_;
  WorkloadConn* conn_ = nullptr;
  bool waiting_ = false;         // queued in the pool for a connection
  std::vector<uint8_t> head_;    // the HTTP/1 request head, until written
  std::vector<uint8_t> early_;   // request body (framed) received before a connection was ready
  size_t earlyCredit_ = 0;
  bool chunked_ = false;
  bool headRequest_ = false;
  bool requestEnded_ = false;    // END_STREAM from the peer
  bool headHeld_ = false;        // head_ waits for the end of the session's read (Session::HoldHead)
  bool requestWritten_ = false;  // the whole request was handed to the connection
  bool discarding_ = false;      // the rest of the request body is not wanted
  bool responseDone_ = false;
  bool headSent_ = false;
  bool noBody_ = false;
  bool keepAlive_ = false;
  bool streamGone_ = false;
  bool finished_ = false;
  bool readPaused_ = false;
  bool peerGone_ = false;
  uint64_t keepAliveMs_;
  uint64_t sentAtMs_ = 0;
  int status_ = 0;
  std::string errorCode_;
  std::string errorMessage_;
  uint64_t startNs_ = 0;
  uint64_t headNs_ = 0;
  uint64_t endNs_ = 0;
  uint64_t requestBytes_ = 0;
  uint64_t responseBytes_ = 0;
  std::string method_, path_, authority_, requestId_, origProto_, target_;
};

}  // namespace engine
}  // namespace meshgate
