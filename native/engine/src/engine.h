// meshgate_engine — the native h2 data path: HTTP/2 peer sessions (libnghttp2) over TLS 1.3
// with mutual authentication (GnuTLS) on TCP, on Node's own libuv loop, and CONNECT streams
// spliced to TCP sockets so that tunnel bytes never reach JavaScript.
//
// The JavaScript binding is the same shape as the QUIC addon's Endpoint (native/index.ts):
// numeric connection and stream ids, and one `emit(kind, conn, stream, code, flag, payload)`
// callback per engine, called in a batch after nghttp2 and GnuTLS have returned. Stream error
// codes cross the binding in the HTTP/3 code space (RFC 9114 §8.1) so that one JS session layer
// serves both addons; this file maps them to and from HTTP/2 codes (RFC 9113 §7).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <gnutls/gnutls.h>
#include <napi.h>
#include <nghttp2/nghttp2.h>
#include <uv.h>

#include "../../src/credentials.h"
#include "../../src/peer-cert.h"
#include "../../src/socket-splice.h"
#include "chunk-queue.h"

namespace meshgate {
namespace engine {

// What JavaScript is told; values shared with EVENT_KIND in native/index.ts.
enum EventKind : int32_t {
  kEventHandshake = 1,         // session ready: strings = [peer URI SAN, ALPN, server: peer chain hex]
  kEventClose = 2,             // session gone: code, flag = 0 transport / 1 application, [reason]
  kEventHeaders = 3,           // header section: flag bit 0 = trailers, bit 1 = END_STREAM
  kEventData = 4,              // body chunk (JS answers whether it wants more)
  kEventEnd = 5,               // END_STREAM received
  kEventStreamClose = 6,       // stream closed: code (HTTP/3 space)
  kEventReset = 7,             // peer RST_STREAM: code (HTTP/3 space)
  kEventDrain = 8,             // send queue fell below half the high-water mark
  kEventGoaway = 9,            // peer sent GOAWAY: code = last stream id
  kEventStreamsAvailable = 10, // a stream slot freed up under the peer's limit
  kEventSpliceClose = 11,      // a spliced stream is over: flag = SpliceEnd, [toPeer, fromPeer, reason]
  kEventDelivered = 12,        // requests the engine delivered to a workload are over (workload-http1.h),
                               // one call per batch: emit(12, 0, 0, 0, 0, nums, text); per request, nums
                               // holds conn, stream, status, DeliveredFlags, the lengths of its
                               // kDeliveredStrings strings in text [target, method, path, authority,
                               // requestId, errorCode, errorMessage, origProto], then requestBytes,
                               // responseBytes, headMs, totalMs
};

constexpr size_t kDeliveredStrings = 8;


struct Event {
  EventKind kind;
  uint32_t conn;
  int32_t stream;
  uint64_t code;
  int32_t flag;
  std::vector<std::string> strings;
  std::vector<uint8_t> data;
  // Numbers beside the strings (an AppHost record's bytes and times): they cross into JS as
  // doubles instead of decimal strings.
  double nums[4] = {0, 0, 0, 0};
  uint8_t numCount = 0;
};

// HTTP/3 codes as JS passes them (native/quic.ts H3_CODES) ↔ HTTP/2 codes.
uint32_t H2CodeFromJs(uint64_t code);
uint64_t JsCodeFromH2(uint32_t code);

struct Settings {
  uint32_t maxConcurrentStreams = 1000;
  int32_t streamWindow = 4 * 1024 * 1024;      // SETTINGS_INITIAL_WINDOW_SIZE, bytes
  int32_t connectionWindow = 16 * 1024 * 1024; // connection receive window, bytes
  uint32_t maxHeaderListBytes = 64 * 1024;     // SETTINGS_MAX_HEADER_LIST_SIZE, bytes
  uint64_t keepAliveMs = 10000;                // PING after this much quiet; 0 = off
  uint64_t keepAliveTimeoutMs = 5000;          // an unanswered PING ends the session after this
  uint64_t handshakeTimeoutMs = 10000;
  size_t sendHighWater = 1024 * 1024;          // queued body bytes per stream before write() says wait
  // Envoy's premature-reset rule (CVE-2023-44487): once a session has opened this many peer
  // streams, it is closed when more than half of them were reset by the peer within
  // kPrematureResetMs of opening.
  uint32_t prematureResetMinStreams = 500;
  uint64_t prematureResetMs = 1000;
  // DATA or HEADERS frames with no payload and no END_STREAM in a row before the session is
  // closed (Envoy: max_consecutive_inbound_frames_with_empty_payload).
  uint32_t maxEmptyFrames = 1;
};

class Engine;
class Session;
class Splice;
struct NativeTarget;
class WorkloadPool;
class WorkloadExchange;
class WorkloadH2cPool;

// A native consumer of one client stream's response, other than JS or a splice: the HTTP/1 app
// connection that sent the request (app-http1.h). The session calls it instead of queueing JS
// events; it credits the stream's window itself (Session::ConsumeStream) once bytes are written.
class StreamRelay {
 public:
  virtual ~StreamRelay() = default;
  // A header section: the response head (informational ones included) or, with `trailers`, the trailers.
  virtual void OnRelayHeaders(std::vector<std::string>&& headers, bool informational, bool trailers) = 0;
  virtual void OnRelayData(const uint8_t* data, size_t len) = 0;
  virtual void OnRelayEnd() = 0;                       // END_STREAM received
  virtual void OnRelayBodyTaken() = 0;                 // nghttp2 took queued request body bytes
  // The stream closed (h2 code; 0 = clean) or its session died; the relay must forget both.
  virtual void OnRelayClosed(uint32_t h2code, bool sessionGone) = 0;
};

// A write the socket did not take at once, queued with uv_write: the bytes left, the caller's
// object, and what the caller wants back when it completes (body bytes to credit to a stream).
struct QueuedWrite {
  uv_write_t req;
  std::vector<uint8_t> bytes;
  void* owner;
  size_t credit;
};
// Writes `len` bytes to `stream` as far as the socket takes them now (uv_try_write, which stays
// behind writes already queued) and queues the rest with uv_write; `cb` gets the QueuedWrite
// (req.data) and deletes it. Returns 0 with `*queued` the bytes handed to uv_write (0: all went
// now, and `credit` is the caller's to apply at once), or a uv error with nothing queued.
int WriteOrQueue(uv_stream_t* stream, const uint8_t* data, size_t len, void* owner, size_t credit, uv_write_cb cb, size_t* queued);

// Why a relayed peer stream ended before its exchange did: "the peer session closed", or "the
// peer reset the stream (HTTP/2 code N)".
std::string PeerStreamEnded(uint32_t h2code, bool sessionGone);
// The sooner of two deadlines (ms on Engine::NowMs()'s clock), 0 meaning none.
inline uint64_t Sooner(uint64_t a, uint64_t b) { return a == 0 || (b != 0 && b < a) ? b : a; }
// Makes sure `timer` fires once by `dueMs` (Engine::NowMs()'s clock; at once when past; 0: no
// deadline). Lazy: a timer already due sooner is left as it is, and one with no deadline left is
// not stopped, so that the deadlines that move on at every step of every request (header read,
// response head, idle, keep-alive) cost no timer-heap work; `cb` must therefore accept firing
// early, find nothing due and arm the timer again for what is due then.
void ArmDeadline(uv_timer_t* timer, uv_timer_cb cb, uint64_t dueMs);
// Stops reading `tcp` if `reading` says it reads, and says it no longer does.
void StopReading(uv_tcp_t* tcp, bool& reading);
// What a cleartext nghttp2 session (an app's h2c connection, a workload's h2c session) has to
// send, written to `stream` (WriteOrQueue) while less than `maxUnwritten` bytes are unwritten;
// `tx` is the caller's scratch buffer, `writesPending` its count of queued bytes. Returns 0, or the
// error that ends the session: nghttp2's (`*fromNghttp2` true) or libuv's.
int SendPlainH2(nghttp2_session* h2, uv_stream_t* stream, std::vector<uint8_t>& tx, size_t& writesPending, size_t maxUnwritten,
                void* owner, uv_write_cb cb, bool* fromNghttp2);

// nghttp2's view of flat name/value pairs (pointing into `flat`, which must outlive the call that
// takes it; nghttp2 copies them).
std::vector<nghttp2_nv> MakeNv(const std::vector<std::string>& flat);

// Copies up to `length` bytes from the front of `queue` (its first chunk read from `head` on)
// into `buf`, dropping the chunks it used up; returns how many. The engine's nghttp2 data
// providers read their queued bodies with it.
size_t TakeQueued(ChunkQueue& queue, size_t& head, uint8_t* buf, size_t length);

// One HTTP/2 stream as the engine keeps it.
struct Stream {
  int32_t id = -1;
  Session* session = nullptr;
  // Body bytes queued for nghttp2 (from JS writes or from a spliced socket).
  ChunkQueue out;
  size_t outHead = 0;        // bytes of out.front() already sent
  size_t outBytes = 0;       // bytes queued in all
  bool outEnd = false;       // the body ends after what is queued
  bool deferred = false;     // the data source returned NGHTTP2_ERR_DEFERRED
  bool hasProvider = false;  // a data provider was submitted with the headers
  std::vector<std::string> trailers;  // flat name/value pairs, sent after the body
  bool drainWanted = false;  // write() returned false: tell JS when the queue is low
  // Received.
  std::vector<std::string> headers;   // header section being received (flat pairs)
  size_t headerBytes = 0;
  bool headersTooLarge = false;
  int headerSections = 0;
  size_t unconsumed = 0;     // body bytes JS holds that the peer's window does not yet credit
  bool readPaused = false;
  bool jsKnows = true;       // JS has an object for this stream (false for refused ones)
  bool dropBody = false;     // a splice ended in failure: the rest of the stream is dropped
  uint64_t openedAtMs = 0;   // when the peer opened it (premature-reset rule)
  std::unique_ptr<Splice> splice;
  StreamRelay* relay = nullptr;  // not owned: the relay detaches itself (Session::DetachRelay)
};

class Session {
 public:
  Session(Engine* engine, uint32_t id, bool server);
  ~Session();

  // Client: starts the TCP connect; server: adopts an accepted socket. Returns 0 or a uv error.
  int Connect(const sockaddr* addr, const std::string& servername, const std::string& expectedIdentity);
  int Accept(uv_stream_t* listener);

  uint32_t id() const { return id_; }
  bool dead() const { return dead_; }
  bool ready() const { return h2_ != nullptr && !dead_; }
  // Inside nghttp2's processing of what was read: a delivery may hold its request head until the
  // body that arrived with it is there too (HoldHead), and is flushed once that read is done.
  bool receiving() const { return receiving_; }
  void HoldHead(WorkloadExchange* exchange) { heldHeads_.push_back(exchange); }
  bool server() const { return server_; }
  Engine* engine() const { return engine_; }
  nghttp2_session* h2() const { return h2_; }
  uv_loop_t* loop() const;
  const Settings& settings() const;

  // JS calls (the engine has checked the connection exists).
  int32_t Request(const std::vector<std::string>& headers, bool endStream);
  // A request whose response goes to `relay` (no JS events for the stream); -1 when no stream may open.
  int32_t RequestRelay(const std::vector<std::string>& headers, bool endStream, StreamRelay* relay);
  // The relay is done with the stream: it forgets it, resetting it with `h2code` when still open (-1: leave it).
  void DetachRelay(int32_t sid, StreamRelay* relay, int64_t h2code);
  void Respond(int32_t sid, const std::vector<std::string>& headers, bool endStream);
  bool Write(int32_t sid, std::vector<std::vector<uint8_t>>&& chunks, bool end,
             std::vector<std::string>&& trailers);
  void ResumeRead(int32_t sid);
  void ResetStream(int32_t sid, uint64_t jsCode);
  void Close(uint64_t jsCode, bool graceful);
  void DataDelivered(int32_t sid, size_t len, bool wantMore);
  void FillStats(Napi::Object out) const;
  // Splices: outbound hands a socket fd in; inbound asks the engine to connect to a target.
  bool SpliceFd(int32_t sid, int fd, std::vector<uint8_t>&& initial, uint64_t idleMs, SpliceStartMode start,
                std::vector<uint8_t>&& toSocket, std::string* error);
  bool SpliceStart(int32_t sid, std::vector<uint8_t>&& toSocket);
  bool SpliceConnect(int32_t sid, const sockaddr* target, uint64_t connectMs, uint64_t idleMs,
                     std::string* error);
  size_t openStreams() const { return streams_.size(); }
  uint32_t streamsLeft() const;

  // Called by the engine's pump: hands nghttp2's output to TLS and the socket.
  void Flush();
  // Ends the session now: socket closed, streams and splices ended, close event queued.
  void Kill(uint32_t code, int type, const std::string& reason);
  void MarkDirty();
  Stream* FindStream(int32_t sid);
  void StreamIoChanged(Stream* s);  // a splice queued bytes or ended: resume the data source
  void ConsumeStream(int32_t sid, size_t len);
  // A splice that batched peer bytes during this read; flushed (and forgotten) before the read
  // callback returns, so the pointer cannot outlive the splice (splices are deleted only in
  // libuv close callbacks).
  void NoteSpliceBatch(Splice* splice) { batchedSplices_.push_back(splice); }
  void SetRef(bool ref);
  // Native inbound delivery (workload-http1.h): the caller may reach `target`, delivered by the engine.
  void AllowTarget(const std::string& target, std::shared_ptr<NativeTarget> grant);
  void ClearTargets() { nativeTargets_.clear(); }
  const std::string& peerIdentity() const { return check_.peerIdentity; }

 private:
  friend class Splice;
  // A request stream for a granted target: delivered by the engine (true), or left to JS.
  bool StartDelivery(Stream* s, bool endStream);
  static void OnAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void OnRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void OnConnect(uv_connect_t* req, int status);
  static void OnWrite(uv_write_t* req, int status);
  static void OnTimer(uv_timer_t* t);
  static ssize_t TlsPull(gnutls_transport_ptr_t ptr, void* data, size_t len);
  static ssize_t TlsPush(gnutls_transport_ptr_t ptr, const void* data, size_t len);
  static ssize_t TlsPushVec(gnutls_transport_ptr_t ptr, const giovec_t* iov, int iovcnt);

  int StartTls(const std::string& servername, const std::string& expectedIdentity);
  void OnCiphertext(const uint8_t* data, size_t len);
  void ContinueHandshake();
  int StartH2();
  void ReadRecords();
  void WriteCiphertext();
  void CheckDone();
  void Tick();
  int32_t Submit(const std::vector<std::string>& headers, bool endStream, int32_t respondTo);
  void Queue(Event&& ev);
  void NoteStreamReset(Stream* s);
  void SendPing();

  // nghttp2 callbacks.
  static int OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user);
  static int OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                      const uint8_t* value, size_t valuelen, uint8_t flags, void* user);
  static int OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user);
  static int OnDataChunk(nghttp2_session*, uint8_t flags, int32_t sid, const uint8_t* data, size_t len, void* user);
  static int OnStreamClose(nghttp2_session*, int32_t sid, uint32_t code, void* user);
  static int OnInvalidFrame(nghttp2_session*, const nghttp2_frame* frame, int lib_error, void* user);
  static ssize_t ReadBody(nghttp2_session*, int32_t sid, uint8_t* buf, size_t length, uint32_t* flags,
                          nghttp2_data_source* source, void* user);

  Engine* engine_;
  uint32_t id_;
  bool server_;
  uv_tcp_t tcp_;
  uv_timer_t timer_;
  uv_connect_t connectReq_;
  bool tcpOpen_ = false;
  int handles_ = 0;      // libuv handles still to close before delete
  bool dead_ = false;
  bool receiving_ = false;
  // Deliveries whose request head waits for the end of this read (workload-http1.cc). Pointers
  // stay valid until then: the engine deletes retired exchanges only in its pump.
  std::vector<WorkloadExchange*> heldHeads_;
  void SendHeldHeads();
  bool dirty_ = false;
  bool reading_ = false;
  gnutls_session_t tls_ = nullptr;
  // The credentials tls_ was set up with, held until the session is deleted (after gnutls_deinit):
  // the engine may have swapped its own for newer ones since (Engine::SetCredentials).
  std::shared_ptr<Credentials> cred_;
  PeerCheck check_;
  bool handshakeDone_ = false;
  bool handshakeAnnounced_ = false;  // client: the handshake event went out (server SETTINGS seen)
  nghttp2_session* h2_ = nullptr;
  std::string alpn_;
  // Ciphertext received and not yet read by GnuTLS.
  std::vector<uint8_t> rx_;
  size_t rxHead_ = 0;
  const uint8_t* inPlace_ = nullptr;  // the socket's read buffer, during OnCiphertext
  size_t inPlaceLen_ = 0;
  std::vector<uint8_t> plain_;        // Flush's record assembly buffer, kept between flushes
  std::vector<Splice*> batchedSplices_;
  // Ciphertext GnuTLS produced, to write.
  std::vector<uint8_t> tx_;
  size_t writesPending_ = 0;  // bytes handed to uv_write and not yet written
  bool eof_ = false;
  std::unordered_map<int32_t, std::unique_ptr<Stream>> streams_;
  uint32_t ownOpen_ = 0;       // streams we opened that are still open (client)
  bool wasAtLimit_ = false;
  // Lifecycle.
  bool goingAway_ = false;     // no new streams: we sent GOAWAY or the peer did
  bool closeWhenIdle_ = false; // graceful close: end the session once no stream is open
  uint64_t finalGoawayAtMs_ = 0;  // server: the final GOAWAY one tick after the notice
  uint64_t startedMs_ = 0;
  uint64_t lastRecvMs_ = 0;
  uint64_t lastSendMs_ = 0;
  uint64_t pingSentAtNs_ = 0;   // 0: no PING outstanding
  double latestRttMs_ = 0;
  double minRttMs_ = 0;
  double smoothedRttMs_ = 0;
  uint64_t bytesSent_ = 0;
  uint64_t bytesReceived_ = 0;
  // Flood and rapid-reset accounting.
  uint32_t peerStreamsOpened_ = 0;
  uint32_t prematureResets_ = 0;
  uint32_t emptyFrames_ = 0;
  std::unordered_map<std::string, std::shared_ptr<NativeTarget>> nativeTargets_;
  std::string closeReason_;
  uint32_t closeCode_ = NGHTTP2_ENHANCE_YOUR_CALM;  // the GOAWAY code that goes with closeReason_
  uint64_t lastDebugSec_ = 0;
};

class Engine {
 public:
  Engine(const Napi::CallbackInfo& info, void* wrap);
  ~Engine();
  const std::string& initError() const { return initError_; }
  void WrapperGone();
  void Detach() { wrap_ = nullptr; }
  void Shutdown();
  int openHandles() const { return openHandles_; }

  uv_loop_t* loop() const { return loop_; }
  const Settings& settings() const { return settings_; }
  // The credentials new handshakes use; a session keeps its own reference (Session::cred_).
  const std::shared_ptr<Credentials>& credentials() const { return cred_; }
  gnutls_priority_t priority() const { return priority_; }
  bool requireClientCert() const { return requireClientCert_; }
  void Push(Event&& ev);
  std::vector<Event>& events() { return events_; }
  void MarkDirty(Session* s);
  void Pump();  // flush dirty sessions, deliver events, reap dead sessions
  void SessionHandlesClosed(Session* s);
  static uint64_t NowMs() { return uv_hrtime() / 1000000; }
  bool closed() const { return closed_ || stopping_; }
  // Native inbound delivery: the pool of connections to a granted target, and the bookkeeping
  // of its connections (handles) and finished exchanges (deleted once the pump is done).
  WorkloadPool* PoolFor(const NativeTarget& target);
  WorkloadH2cPool* H2cPoolFor(const NativeTarget& target);  // h2c targets (workload-h2c.h)
  void WorkloadHandleOpened() { ++openHandles_; }
  void WorkloadHandleClosed() { HandleClosed(); }
  void RetireExchange(StreamRelay* exchange) { retired_.push_back(exchange); }
  std::vector<uint8_t>& workloadReadBuffer() { return workloadReadBuffer_; }

  // JS methods.
  Napi::Value Address(const Napi::CallbackInfo& info);
  Napi::Value Connect(const Napi::CallbackInfo& info);
  Napi::Value Request(const Napi::CallbackInfo& info);
  Napi::Value Respond(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value ResumeRead(const Napi::CallbackInfo& info);
  Napi::Value ResetStream(const Napi::CallbackInfo& info);
  Napi::Value CloseConnection(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value StreamsLeft(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value SetRef(const Napi::CallbackInfo& info);
  Napi::Value StopAccepting(const Napi::CallbackInfo& info);
  Napi::Value SetCredentials(const Napi::CallbackInfo& info);
  Napi::Value SpliceFd(const Napi::CallbackInfo& info);
  Napi::Value SpliceStart(const Napi::CallbackInfo& info);
  Napi::Value SpliceConnect(const Napi::CallbackInfo& info);
  Napi::Value AllowTarget(const Napi::CallbackInfo& info);
  Napi::Value ClearTargets(const Napi::CallbackInfo& info);

 private:
  Session* Find(const Napi::CallbackInfo& info, size_t index);

 public:
  // A live session of this engine by its connection id, or null.
  Session* FindSession(uint32_t id) const {
    auto it = sessions_.find(id);
    return it == sessions_.end() || it->second->dead() ? nullptr : it->second;
  }

 private:
  void DeliverEvents();
  // kEventDelivered records gathered by DeliverEvents(), emitted in one call.
  void EmitDelivered(std::vector<double>* nums, std::string* text);
  void Reap();
  static void OnConnection(uv_stream_t* server, int status);
  static void OnIdle(uv_idle_t* h);
  static void OnCheck(uv_check_t* h);
  void SchedulePump();
  static void OnHandleClosed(uv_handle_t* h);
  void HandleClosed();

  Napi::Env env_;
  void* wrap_;
  std::string initError_;
  bool teardown_ = false;
  bool closed_ = false;
  bool stopping_ = false;
  bool pumping_ = false;
  bool accepting_ = false;
  bool listenerOpen_ = false;
  bool server_ = false;
  bool refed_ = true;
  Napi::FunctionReference emit_;
  Napi::ObjectReference self_;
  std::unique_ptr<Napi::AsyncContext> async_;
  uv_loop_t* loop_ = nullptr;
  uv_tcp_t listener_;
  uv_idle_t idle_;
  uv_check_t check_;
  int openHandles_ = 0;
  Settings settings_;
  bool requireClientCert_ = true;
  std::shared_ptr<Credentials> cred_;
  gnutls_priority_t priority_ = nullptr;
  uint32_t nextId_ = 1;
  std::unordered_map<uint32_t, Session*> sessions_;
  std::vector<Session*> dirty_;
  std::vector<Session*> flushing_;  // Pump's spare for dirty_
  std::vector<Event> events_;
  std::vector<Event> spareEvents_;  // DeliverEvents' spare for events_
  std::unordered_map<std::string, std::unique_ptr<WorkloadPool>> pools_;
  std::unordered_map<std::string, std::unique_ptr<WorkloadH2cPool>> h2cPools_;
  std::vector<StreamRelay*> retired_;
  std::vector<uint8_t> workloadReadBuffer_;
};

// Parses an IP literal and port into `out`; false when `host` is not an IP address.
bool ParseAddress(const std::string& host, int port, sockaddr_storage* out);

}  // namespace engine
}  // namespace meshgate
