// Native inbound delivery over h2c (docs/native-http.md, stage 5): a request stream for a target
// JavaScript granted to the session's caller, whose target speaks HTTP/2 (`protocol: http2`, or
// an `auto` target and a request the app did not send as HTTP/1.1), is delivered by the engine
// on an h2c session to the workload (nghttp2 client, prior knowledge, one session per target as
// the JS path's src/inbound/h2c-upstream.ts keeps), the response's head, body and trailers sent
// back on the peer stream, with no JavaScript per request except one record at its end.
//
// Flow control both ways is end to end: a request body's bytes are credited to the peer stream
// as the workload's session takes them (which it does only while the workload socket keeps up),
// a response's are credited to the workload's stream once the peer stream took them; connection
// windows are credited on arrival, so one slow stream never stalls the others.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <nghttp2/nghttp2.h>
#include <uv.h>

#include "engine.h"
#include "workload-http1.h"

namespace meshgate {
namespace engine {

class WorkloadH2cPool;
class WorkloadH2cSession;

// One request stream delivered over h2c: the peer session's relay for its stream, and the
// workload session's stream user data.
class H2cDelivery final : public StreamRelay {
 public:
  H2cDelivery(Session* session, int32_t sid, WorkloadH2cPool* pool);
  // The workload request's fields from the peer stream's head; false when it cannot be sent as
  // it is (JavaScript then serves it).
  bool Prepare(const std::vector<std::string>& fields, bool endStream, const std::string& caller);
  void Start();

  // From the pool and the workload session.
  void OnSessionReady(WorkloadH2cSession* ws);
  void OnSessionFailed(const char* code, const std::string& message);  // before its stream opened
  void OnResponseHeaders(std::vector<std::string>&& fields, bool endStream);
  void OnResponseData(const uint8_t* data, size_t len);
  void OnResponseEnd();
  void OnWorkloadClosed(uint32_t h2code, const char* code, const std::string& message);
  ssize_t ReadRequest(uint8_t* buf, size_t length, uint32_t* flags);
  uint64_t DueMs() const;  // when this delivery times out (0: no timer)
  void TimedOut();
  std::vector<std::string>& responseFields() { return responseFields_; }
  void NoteTooLarge() {
    if (errorCode_.empty()) {
      errorCode_ = "E_UPSTREAM_RESET";
      errorMessage_ = "the workload's response head is larger than 64 KiB";
    }
  }
  void SetWaiting(bool waiting) { waiting_ = waiting; }

  // StreamRelay (the request, from the peer)
  void OnRelayHeaders(std::vector<std::string>&& headers, bool informational, bool trailers) override;
  void OnRelayData(const uint8_t* data, size_t len) override;
  void OnRelayEnd() override;
  void OnRelayBodyTaken() override;
  void OnRelayClosed(uint32_t h2code, bool sessionGone) override;

 private:
  void ResumeRequest();
  void Fail(const char* code, const std::string& message);
  void FailPeer(const char* code, const std::string& message);
  void DiscardRequest();
  void Answer(int status, const char* code, const std::string& message);
  void Finish();
  void Record();

  Session* session_;  // null once the peer stream is gone
  uint32_t connId_;
  int32_t sid_;
  WorkloadH2cPool* pool_;
  WorkloadH2cSession* ws_ = nullptr;  // null before the stream opened and once it closed
  int32_t wsid_ = -1;
  bool waiting_ = false;
  bool opened_ = false;         // a workload stream was opened (its close is still to come while ws_)
  std::vector<std::string> fields_;
  bool hasBody_ = false;
  // Request body, from the peer, until the workload session takes it.
  ChunkQueue out_;
  size_t outHead_ = 0;
  bool outEnd_ = false;
  bool deferred_ = false;
  bool discarding_ = false;     // the rest of the request body is not wanted
  // Response.
  std::vector<std::string> responseFields_;  // the header section being received
  size_t responseHeaderBytes_ = 0;
  std::vector<std::string> trailers_;
  size_t queued_ = 0;           // response bytes on the peer stream's queue, not yet credited to the workload
  bool headSent_ = false;
  bool responseDone_ = false;
  bool streamGone_ = false;     // the peer stream is gone (or detached)
  bool peerGone_ = false;
  bool finished_ = false;
  int status_ = 0;
  std::string errorCode_;
  std::string errorMessage_;
  uint64_t startNs_;
  uint64_t sentAtMs_ = 0;
  uint64_t headNs_ = 0;
  uint64_t endNs_ = 0;
  uint64_t lastActivityMs_ = 0;
  uint64_t requestBytes_ = 0;
  uint64_t responseBytes_ = 0;
  std::string method_, path_, authority_, requestId_, target_;
  friend class WorkloadH2cSession;
};

// One h2c session to a workload.
class WorkloadH2cSession {
 public:
  explicit WorkloadH2cSession(WorkloadH2cPool* pool);
  void Connect();
  bool usable() const { return !goingAway_ && !closing_; }
  bool connected() const { return connected_; }
  nghttp2_session* h2() const { return h2_; }
  void Wait(H2cDelivery* x) { waiting_.push_back(x); }
  void Cancel(H2cDelivery* x);
  // Opens the delivery's stream; -1 when nghttp2 refuses it.
  int32_t Submit(H2cDelivery* x, const std::vector<std::string>& fields, bool hasBody);
  void Reset(int32_t wsid, uint32_t h2code);
  void MarkDirty();
  void Flush();
  void ArmTimer();
  void Kill(const char* code, const std::string& message);  // every stream fails; the session closes

 private:
  static void OnConnect(uv_connect_t* req, int status);
  static void OnAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void OnRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void OnWrite(uv_write_t* req, int status);
  static void OnTimer(uv_timer_t* t);
  static void OnIdle(uv_idle_t* h);
  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                      const uint8_t* value, size_t valuelen, uint8_t flags, void* user);
  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user);
  static int OnDataChunk(nghttp2_session*, uint8_t flags, int32_t sid, const uint8_t* data, size_t len, void* user);
  static int OnStreamClose(nghttp2_session*, int32_t sid, uint32_t code, void* user);
  static ssize_t ReadRequest(nghttp2_session*, int32_t sid, uint8_t* buf, size_t length, uint32_t* flags,
                             nghttp2_data_source* source, void* user);
  int StartH2();
  void CloseHandles();
  H2cDelivery* Find(int32_t wsid);

  WorkloadH2cPool* pool_;
  uv_tcp_t tcp_;
  uv_timer_t timer_;
  uv_idle_t idle_;  // Flush outside the callbacks that mark the session dirty
  uv_connect_t connectReq_;
  int handles_ = 0;
  nghttp2_session* h2_ = nullptr;
  bool connected_ = false;
  bool goingAway_ = false;
  bool closing_ = false;
  bool reading_ = false;
  bool dirty_ = false;
  size_t writesPending_ = 0;
  std::vector<uint8_t> tx_;
  uint64_t connectStartMs_ = 0;
  uint64_t idleSinceMs_ = 0;
  std::unordered_map<int32_t, H2cDelivery*> streams_;
  std::vector<H2cDelivery*> waiting_;  // deliveries waiting for the connect
  friend class WorkloadH2cPool;
};

// The h2c sessions to one target: one in use; a new one when it goes away.
class WorkloadH2cPool {
 public:
  WorkloadH2cPool(Engine* engine, const NativeTarget& target) : engine_(engine), target_(target) {}
  ~WorkloadH2cPool();
  Engine* engine() const { return engine_; }
  const NativeTarget& target() const { return target_; }
  void Update(const NativeTarget& target) { target_ = target; }
  void Acquire(H2cDelivery* x);
  void Cancel(H2cDelivery* x);
  void SessionClosed(WorkloadH2cSession* ws);  // its handles are closed: delete it
  void CloseAll();

 private:
  Engine* engine_;
  NativeTarget target_;
  std::vector<WorkloadH2cSession*> sessions_;
};

}  // namespace engine
}  // namespace meshgate
