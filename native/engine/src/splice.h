// A CONNECT stream spliced to a TCP socket inside the engine: the app's socket on the outbound
// side (its fd handed over by JS), the workload's on the inbound side (the engine connects).
// Bytes move between the socket and nghttp2 with no JavaScript per chunk: the stream's receive
// window is credited only once a chunk is written to the socket, and the socket is read only
// while the stream's send queue is below its high-water mark, so each side paces the other.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <uv.h>

#include "engine.h"

namespace meshgate {
namespace engine {

class Splice {
 public:
  // Queued socket bytes per stream before the socket's reads pause, and where they resume.
  static constexpr size_t kHighWater = 512 * 1024;
  static constexpr size_t kLowWater = 128 * 1024;
  static constexpr size_t kReadSize = 64 * 1024;

  Splice(Session* session, Stream* stream, uint64_t idleMs);
  // Outbound: adopts `fd` (a dup of the app socket); reading starts on the peer's 2xx.
  int AdoptFd(int fd, std::vector<uint8_t>&& initial);
  // Inbound: connects to the target; answers 200 once connected, or reports the failure.
  int ConnectTo(const sockaddr* target, uint64_t connectMs);

  // Starts moving bytes: `toSocket` (peer bytes JS already held, or an HTTP/1 101 head) is
  // written to the socket first, then what the peer sent meanwhile, then both ways.
  void Start(std::vector<uint8_t>&& toSocket = {});
  // Outbound Upgrade: the peer's 2xx does not start the splice; JS does (spliceStart), once it
  // has the 101 head to write first.
  void DeferStart() { deferStart_ = true; }
  bool deferStart() const { return deferStart_; }
  void RefusedByPeer(const std::string& status);
  void OnPeerData(const uint8_t* data, size_t len);
  void OnPeerEnd();
  void OnBodyTaken();                     // nghttp2 took queued bytes: maybe read again
  void FlushToSocket();                   // writes the peer bytes batched since the last call
  // The stream closed (h2 error code; 0 = clean) or the session died (`sessionGone`). The
  // splice leaves its stream here and deletes itself once its handles have closed.
  void OnStreamClosed(uint32_t h2code, bool sessionGone);

 private:
  static void OnAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void OnRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void OnWrite(uv_write_t* req, int status);
  static void OnShutdown(uv_shutdown_t* req, int status);
  static void OnConnect(uv_connect_t* req, int status);
  static void OnTimer(uv_timer_t* t);
  static void OnClosed(uv_handle_t* h);

  void WriteToSocket(std::vector<uint8_t>&& bytes);
  void MaybeShutdown();
  void MaybeClose();
  void SocketFailed(const std::string& why);
  void Finish(SpliceEnd end, const std::string& reason);
  void InitHandles();
  void CloseHandles();
  void ReadStart();

  Engine* engine_;
  Session* session_;  // null once the stream has closed
  Stream* stream_;    // null once the stream has closed
  uint32_t conn_;
  int32_t sid_;
  uv_tcp_t tcp_;
  uv_timer_t timer_;
  uv_connect_t connectReq_;
  uv_shutdown_t shutdownReq_;
  int handles_ = 0;
  bool connecting_ = false;
  bool deferStart_ = false;
  bool open_ = false;         // socket usable (adopted and started, or connected)
  bool reading_ = false;
  bool socketEnded_ = false;  // the socket sent FIN
  bool peerEnded_ = false;    // the peer sent END_STREAM
  bool shutdownDone_ = false;
  bool shutdownSent_ = false;
  bool finished_ = false;     // the close record was queued
  bool closing_ = false;
  std::vector<uint8_t> initial_;
  std::vector<std::vector<uint8_t>> early_;
  std::vector<uint8_t> batch_;  // peer bytes of the current socket read, written as one  // peer bytes that came before the socket was ready
  size_t writesPending_ = 0;
  uint64_t toPeer_ = 0;
  uint64_t fromPeer_ = 0;
  uint64_t idleMs_;
  uint64_t lastActivityMs_ = 0;
  uint64_t connectDeadlineMs_ = 0;
  SpliceEnd end_ = kSpliceDone;
  std::string reason_;
};

}  // namespace engine
}  // namespace meshgate
