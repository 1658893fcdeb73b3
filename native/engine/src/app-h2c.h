// The engine's h2c app side (docs/native-http.md, stage 4): an app connection the outbound
// listener detected as HTTP/2 with prior knowledge is handed over (a dup of its fd plus the bytes
// detection read) and served by an nghttp2 server session on the plain socket. Each stream's
// request head crosses into JavaScript once (AppHost's head event, with the stream's id); JS
// answers with forwardStream(), answerStream() or refuseStream(), and the engine then moves the
// request body to a native peer stream and the response (head, body, trailers) back, with no
// JavaScript per chunk. One record per exchange goes to JavaScript at its end, as for HTTP/1.
//
// Rules enforced here, as the JS path does with node:http2: at most 256 header pairs and
// `maxHeaderBytes` per head (431), Envoy's premature-reset rule (GOAWAY ENHANCE_YOUR_CALM once
// more than half of at least 500 streams were reset within 1 s of opening), the optional
// requests-per-connection limit (GOAWAY NO_ERROR), and a connection that sends no whole request
// head within `headerReadMs` of being handed over is closed. Flow control: the connection window is credited as bytes arrive, a
// stream's only once its bytes were taken by the peer stream, so one slow upstream never stalls
// the other streams of the connection and each stream buffers at most its window.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <nghttp2/nghttp2.h>
#include <uv.h>

#include "engine.h"

namespace meshgate {
namespace engine {

class AppHost;
class AppH2cConn;

// Event kinds of an AppHost beyond app-http1.h's (APP_EVENT in transports/h2-native/http-front.ts).
enum AppH2cEventKind : int32_t {
  kAppStreamGone = 23,  // a stream whose head JS holds ended before JS decided: stream = app stream id
  kAppH2cClosed = 24,   // the engine ends the session by a rule: code = AppH2cCloseReason, strings = [message]
  kAppH2cResets = 25,   // client resets of streams whose head JS never saw: code = how many
};

enum AppH2cCloseReason : int32_t {
  kH2cRapidReset = 1,   // the premature-reset rule
  kH2cMaxRequests = 2,  // limits.maxRequestsPerConnection
  kH2cProtocol = 3,     // nghttp2 refused the client's frames (bad preface, flood, protocol error)
  kH2cPrefaceTimeout = 4,
  kH2cFlood = 5,        // empty DATA or HEADERS frames in a row
};

// Bit of kAppHead's flag for an h2c stream (beside app-http1.h's AppHeadFlags).
constexpr int32_t kHeadH2c = 16;
// Bit of kAppDone's flag: the client reset the stream (beside app-http1.h's AppDoneFlags).
constexpr int32_t kDoneClientReset = 8;

// One app stream, from its HEADERS to its close.
class AppH2cExchange final : public StreamRelay {
 public:
  AppH2cExchange(AppH2cConn* conn, int32_t sid);
  ~AppH2cExchange() override;

  // StreamRelay (the peer stream's response).
  void OnRelayHeaders(std::vector<std::string>&& headers, bool informational, bool trailers) override;
  void OnRelayData(const uint8_t* data, size_t len) override;
  void OnRelayEnd() override;
  void OnRelayBodyTaken() override;
  void OnRelayClosed(uint32_t h2code, bool sessionGone) override;

 private:
  friend class AppH2cConn;
  enum class State { kHead, kDeciding, kForwarding, kAnswered };

  void Fail(const std::string& code, const std::string& message, int status);
  void AnswerError(int status, const std::string& code, const std::string& message);
  void Detach(int64_t h2code);
  void CreditQueued();
  void RequestEnded();
  void PushBody(const uint8_t* data, size_t len);
  void ResumeResponse();
  ssize_t ReadResponse(uint8_t* buf, size_t length, uint32_t* flags);
  uint64_t DueMs() const;  // when this exchange times out (0: no timer)

  AppH2cConn* conn_;
  int32_t sid_;
  State state_ = State::kHead;
  uint64_t openedAtMs_ = 0;
  // The request as received.
  std::vector<std::string> fields_;  // flat pairs, pseudo-headers included
  size_t headerBytes_ = 0;
  bool tooLarge_ = false;
  bool requestDone_ = false;       // END_STREAM from the app
  bool hasBody_ = false;
  bool headRequest_ = false;
  bool expectContinue_ = false;    // `expect: 100-continue`: a 100 goes out once the request is forwarded
  std::vector<uint8_t> early_;     // body bytes read before JS decided
  std::vector<std::string> requestTrailers_;
  bool inTrailers_ = false;
  // The peer stream.
  Session* session_ = nullptr;
  int32_t peerSid_ = -1;
  uint32_t token_ = 0;
  size_t queued_ = 0;              // body bytes on the peer stream's queue, not yet credited to the app
  uint64_t requestMs_ = 0;
  uint64_t idleMs_ = 0;
  // The response.
  ChunkQueue out_;
  size_t outHead_ = 0;
  bool outEnd_ = false;
  bool fromPeer_ = false;          // out_ holds the peer's bytes (credited to it once taken)
  bool deferred_ = false;
  bool submitted_ = false;         // a response head went to nghttp2
  bool bodyless_ = false;          // the peer stream was opened with END_STREAM (nothing more to send)
  bool resent_ = false;            // refused once by the peer and given back to JS (kAppRefused)
  bool headSent_ = false;          // that head was the peer's
  bool responseDone_ = false;      // END_STREAM (or the trailers) went to nghttp2
  std::vector<std::string> trailers_;
  int status_ = 0;
  std::string peerError_;
  std::string failure_;
  std::string failureMessage_;
  bool recorded_ = false;
  uint64_t startNs_ = 0;
  uint64_t headNs_ = 0;
  uint64_t lastActivityMs_ = 0;
  uint64_t requestBytes_ = 0;
  uint64_t responseBytes_ = 0;
};

class AppH2cConn {
 public:
  AppH2cConn(AppHost* host, uint32_t id);
  ~AppH2cConn();
  int Adopt(int fd, std::vector<uint8_t>&& initial);

  uint32_t id() const { return id_; }
  bool closing() const { return closing_; }
  AppHost* host() const { return host_; }
  nghttp2_session* h2() const { return h2_; }

  // JavaScript's answers to a stream's head. 0: done; 1: no such stream waiting; 2: the peer
  // session cannot take a stream now (nothing changed).
  int Forward(int32_t sid, Session* session, const std::vector<std::string>& fields, uint64_t requestMs, uint64_t idleMs,
              uint32_t token);
  int Answer(int32_t sid, int status, const std::string& code, const std::string& message);
  // The stream is refused (RST_STREAM REFUSED_STREAM, safe for the client to retry) and the
  // connection told to go away, so that the client's retry lands on a new connection.
  int Refuse(int32_t sid);
  void Drain();
  void CloseNow();
  void Flush();      // nghttp2's output to the socket
  void MarkDirty();  // Flush at the host's next pump
  void ArmTimer();

 private:
  friend class AppH2cExchange;

  static void OnAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void OnRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void OnWrite(uv_write_t* req, int status);
  static void OnTimer(uv_timer_t* t);
  static int OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user);
  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                      const uint8_t* value, size_t valuelen, uint8_t flags, void* user);
  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user);
  static int OnDataChunk(nghttp2_session*, uint8_t flags, int32_t sid, const uint8_t* data, size_t len, void* user);
  static int OnStreamClose(nghttp2_session*, int32_t sid, uint32_t code, void* user);
  static ssize_t ReadResponse(nghttp2_session*, int32_t sid, uint8_t* buf, size_t length, uint32_t* flags,
                              nghttp2_data_source* source, void* user);

  int StartH2();
  void Receive(const uint8_t* data, size_t len);
  void AnnounceHeads();
  void ClientReset(AppH2cExchange* x);
  void Trip(AppH2cCloseReason reason, const std::string& message);
  void FinishTrip();
  void Record(AppH2cExchange* x, uint32_t closeCode);
  void CheckDone();
  void CloseHandles();
  AppH2cExchange* Find(int32_t sid);

  AppHost* host_;
  uint32_t id_;
  uv_tcp_t tcp_;
  uv_timer_t timer_;
  int handles_ = 0;
  nghttp2_session* h2_ = nullptr;
  bool reading_ = false;
  bool closing_ = false;
  bool handlesClosed_ = false;
  bool dirty_ = false;
  bool draining_ = false;
  bool tripped_ = false;
  bool gotRequest_ = false;  // a whole request head came (until then headerReadMs applies)
  uint64_t adoptedMs_ = 0;
  size_t writesPending_ = 0;
  std::vector<uint8_t> tx_;
  std::unordered_map<int32_t, std::unique_ptr<AppH2cExchange>> exchanges_;
  std::vector<int32_t> pendingHeads_;  // heads complete in this read, announced once it is over
  uint32_t opened_ = 0;
  uint32_t premature_ = 0;
  uint32_t unannouncedResets_ = 0;
  uint32_t emptyFrames_ = 0;
};

}  // namespace engine
}  // namespace meshgate
