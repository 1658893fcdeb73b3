// A UDP endpoint on the Node event loop: one uv_udp_t socket, the connection-ID routing table,
// batched sends (sendmsg with UDP GSO where the kernel has it), and the pump that writes dirty
// connections and hands queued events to JavaScript. JS holds an EndpointWrap (addon.cc) that
// forwards to this object; this one lives until its last libuv handle has closed, which may be
// after the JS object is gone (at process exit, Node finalizes wrappers before closing handles).
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <napi.h>
#include <ngtcp2/ngtcp2.h>
#include <uv.h>

#include "common.h"
#include "connection.h"
#include "tls.h"

namespace meshgate {

class EndpointWrap;
// Tells the wrapper its Endpoint is gone (defined with EndpointWrap in addon.cc).
void DetachWrap(EndpointWrap* wrap);

class Endpoint {
 public:
  // new Endpoint(options, emit) from JS; on failure `initError()` is set and the caller closes.
  Endpoint(const Napi::CallbackInfo& info, EndpointWrap* wrap);
  ~Endpoint();
  const std::string& initError() const { return initError_; }
  int openHandles() const { return openHandles_; }
  // The JS wrapper is being finalized: forget it, and close everything if still open.
  void WrapperGone();
  void Detach() { wrap_ = nullptr; }
  void Shutdown();

  // For connections.
  uv_loop_t* loop() const { return loop_; }
  // The TLS context new connections use; a connection keeps its own reference (Connection::tlsContext_).
  const std::shared_ptr<TlsContext>& tls() const { return tls_; }
  const QuicSettings& settings() const { return settings_; }
  bool server() const { return server_; }
  // Static key of stateless reset tokens (RFC 9000 §10.3): derived from our private key, so a
  // restarted process with the same key can tell peers of the old one that their state is gone.
  const uint8_t* resetSecret() const { return resetSecret_; }
  static constexpr size_t kResetSecretLen = 32;
  void MarkDirty(Connection* conn);
  void Push(Event&& event) { events_.push_back(std::move(event)); }
  // Runs the pump on the next loop turn (events were queued outside a connection's callbacks).
  void Wake();
  void Pump();
  // A spliced stream got peer bytes in this read: its socket write goes out at the next pump.
  void NoteSpliceBatch(uint32_t conn, int64_t sid) { splicesToFlush_.emplace_back(conn, sid); }
  std::vector<Event>& events() { return events_; }
  void AddCid(const std::string& key, Connection* conn) { cids_[key] = conn; }
  void RemoveCid(const std::string& key) { cids_.erase(key); }
  // Sends `count` packets laid out back to back in `data`, each `segment` bytes except maybe the
  // last. Returns false when the socket is full (the caller stops; it is re-dirtied later).
  bool Send(const sockaddr* remote, socklen_t remoteLen, const uint8_t* data, size_t total,
            size_t segment);
  bool sendBlocked() const { return sendBlocked_; }
  uint8_t* txBuffer() { return txbuf_.get(); }
  void HandleClosed();  // a connection's timer handle finished closing

  static constexpr size_t kMaxPacket = 1500;
  static constexpr size_t kMaxBatch = 44;  // packets per sendmsg (GSO keeps it under 64 KB)
  static constexpr size_t kRxSlots = 20;
  static constexpr size_t kRxSlot = 65536;
  static constexpr size_t kRxBuffer = kRxSlots * kRxSlot;  // recvmmsg: 20 datagrams in 64 KB slots
  static constexpr size_t kTxBuffer = kMaxBatch * kMaxPacket + kMaxPacket;
  static constexpr size_t kCidLen = 16;

  // JS methods (forwarded by EndpointWrap).
  Napi::Value Address(const Napi::CallbackInfo& info);
  Napi::Value Connect(const Napi::CallbackInfo& info);
  Napi::Value Request(const Napi::CallbackInfo& info);
  Napi::Value Respond(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value End(const Napi::CallbackInfo& info);
  Napi::Value ResumeRead(const Napi::CallbackInfo& info);
  Napi::Value ResetStream(const Napi::CallbackInfo& info);
  Napi::Value CloseConnection(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value SetRef(const Napi::CallbackInfo& info);
  Napi::Value StopAccepting(const Napi::CallbackInfo& info);
  Napi::Value SetCredentials(const Napi::CallbackInfo& info);
  Napi::Value SpliceFd(const Napi::CallbackInfo& info);
  Napi::Value SpliceStart(const Napi::CallbackInfo& info);
  Napi::Value SpliceConnect(const Napi::CallbackInfo& info);

 private:

  Connection* Find(const Napi::CallbackInfo& info, size_t index);
  void OnDatagram(const uint8_t* data, size_t len, const sockaddr* addr);
  void SendVersionNegotiation(const ngtcp2_version_cid& vc, const sockaddr* addr, size_t len);
  void SendStatelessReset(const ngtcp2_version_cid& vc, const sockaddr* addr, size_t len);
  void FlushSplices();
  void DeliverEvents();
  void Reap();
  void SendQueued(const sockaddr* remote, const uint8_t* data, size_t total, size_t segment);

  // UDP GRO (Linux ≥ 5.0): the kernel hands over up to 64 KB of same-sized datagrams at once
  // (on loopback a peer's GSO send arrives unsplit), so one recvmmsg(2) slot may carry dozens
  // of QUIC packets; the cmsg says where each ends. libuv's receive path passes no cmsg, so with
  // GRO the socket is read here, through a second descriptor (dup) that only this poll watches.
  bool StartGroReceive();
  void ReadGro();
  static void OnGroReadable(uv_poll_t* handle, int status, int events);
  static void OnAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void OnRecv(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr,
                     unsigned flags);
  static void OnPumpHandle(uv_idle_t* handle);
  static void OnCheckHandle(uv_check_t* handle);
  static void OnHandleClosed(uv_handle_t* handle);
  static void OnSendDone(uv_udp_send_t* req, int status);
  Napi::Env env_;
  EndpointWrap* wrap_;
  std::string initError_;
  bool teardown_ = false;   // process exit: no JS, leak the JS references
  Napi::ObjectReference self_;  // keeps the JS wrapper alive while the socket is open
  uv_loop_t* loop_ = nullptr;
  bool server_ = false;
  QuicSettings settings_;
  std::shared_ptr<TlsContext> tls_;
  uv_udp_t udp_;
  uv_idle_t idle_;
  uv_check_t check_;
  uv_poll_t groPoll_;
  int groFd_ = -1;  // the dup'd descriptor groPoll_ watches; closed once the poll handle has closed
  int openHandles_ = 0;
  bool closing_ = false;
  bool closed_ = false;
  bool pumping_ = false;
  bool gso_ = true;
  bool sendBlocked_ = false;
  int pendingSends_ = 0;
  sockaddr_storage local_{};
  socklen_t localLen_ = 0;
  uint32_t nextConnId_ = 1;
  uint8_t resetSecret_[kResetSecretLen];
  std::unordered_map<std::string, Connection*> cids_;
  std::unordered_map<uint32_t, Connection*> conns_;
  std::vector<Connection*> dirty_;
  std::vector<Event> events_;
  std::vector<std::pair<uint32_t, int64_t>> splicesToFlush_;  // looked up again: never dangles
  // Plain arrays, not std::vector: a vector zero-fills and so makes all 1.3 MB resident at once.
  // recvmmsg(2) and ngtcp2 write before anything is read, and touch only the pages they use (a
  // datagram fills the start of its 64 KB slot), so an idle endpoint keeps these nearly free.
  std::unique_ptr<uint8_t[]> rxbuf_;
  std::unique_ptr<uint8_t[]> txbuf_;
  Napi::FunctionReference emit_;
  std::unique_ptr<Napi::AsyncContext> async_;
};

}  // namespace meshgate
