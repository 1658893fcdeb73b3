// The socket half of a CONNECT stream spliced to a TCP socket, shared by the native h2 engine
// (native/engine) and the QUIC addon: the app's socket on the outbound side (its fd handed over by
// JS), the workload's on the inbound side (connected here). Bytes move between the socket and the
// protocol library with no JavaScript per chunk: the stream's receive window is credited only
// once a chunk is written to the socket, and the socket is read only while the stream's send queue
// is below its high-water mark, so each side paces the other.
//
// A subclass binds it to one protocol's stream (HTTP/2 or HTTP/3) through the hooks below; the
// hooks that touch the stream run only while it is attached (`attached()`).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <uv.h>

namespace meshgate {

// Fixes glibc's mmap threshold at its starting value (128 KiB), so that the splices' batch
// buffers go back to the kernel when the pool lets them go (socket-splice.cc). Process-wide;
// each addon calls it once when it loads.
void PinMallocThresholds();

// How a splice ended (flag of the spliceClose event; SPLICE_END in native/index.ts).
enum SpliceEnd : int32_t {
  kSpliceDone = 0,            // both directions finished (FIN both ways)
  kSpliceStreamReset = 1,     // the peer reset the stream or the session went away
  kSpliceSocketError = 2,     // the local socket failed (reset, write error)
  kSpliceIdle = 3,            // no bytes either way for idleMs
  kSpliceConnectRefused = 4,  // inbound: the target refused or could not be reached
  kSpliceConnectTimeout = 5,  // inbound: the target did not accept within the connect timeout
  kSpliceRefusedByPeer = 6,   // outbound: the peer answered the CONNECT with a non-2xx status
};

// When a handed-over socket starts moving bytes (spliceFd's `start`; SPLICE_START in index.ts).
enum SpliceStartMode : int32_t { kStartOnAnswer = 0, kStartOnJs = 1, kStartNow = 2 };

class SocketSplice {
 public:
  // Queued socket bytes per stream before the socket's reads pause (by default; reads resume
  // below a quarter of it).
  static constexpr size_t kHighWater = 512 * 1024;
  static constexpr size_t kReadSize = 64 * 1024;

  SocketSplice(uv_loop_t* loop, uint64_t idleMs, size_t highWater = kHighWater);
  virtual ~SocketSplice();
  SocketSplice(const SocketSplice&) = delete;
  SocketSplice& operator=(const SocketSplice&) = delete;

  // Outbound: adopts a dup of `fd`; reading starts with Start().
  int AdoptFd(int fd, std::vector<uint8_t>&& initial);
  // Inbound: connects to the target; answers 200 once connected, or reports the failure.
  void ConnectTo(const sockaddr* target, uint64_t connectMs);

  // Starts moving bytes: `toSocket` (peer bytes JS already held, or an HTTP/1 101 head) is
  // written to the socket first, then what the peer sent meanwhile, then both ways.
  void Start(std::vector<uint8_t>&& toSocket = {});
  // Outbound Upgrade: the peer's 2xx does not start the splice; JS does, once it has the 101.
  void DeferStart() { deferStart_ = true; }
  bool deferStart() const { return deferStart_; }
  void RefusedByPeer(const std::string& status);
  // Peer bytes: gathered until FlushToSocket, which the protocol side calls (NoteBatch) before
  // the read that brought them returns, so one socket write carries a whole read's bytes.
  void OnPeerData(const uint8_t* data, size_t len);
  void OnPeerEnd();
  void OnBodyTaken();                     // the protocol took queued bytes: maybe read again
  void FlushToSocket();                   // writes the peer bytes gathered since the last call
  // The stream closed (`clean`: both ways finished without error) or its session died. The
  // splice leaves its stream here and deletes itself once its handles have closed.
  void OnStreamClosed(bool clean, const std::string& why);

 protected:
  bool attached() const { return attached_; }
  // --- hooks into the stream's protocol (called only while attached, except Report/Pump) ---
  // Queues socket bytes on the stream; returns the bytes now queued and not yet taken.
  virtual size_t QueueToPeer(std::vector<uint8_t>&& bytes) = 0;
  virtual size_t QueuedToPeer() const = 0;
  virtual void EndToPeer() = 0;                   // the socket sent FIN: end the stream
  virtual void CreditPeer(size_t n) = 0;          // `n` peer bytes reached the socket
  virtual void ResetPeer(bool idle) = 0;          // abort the stream (CANCEL when idle, else CONNECT_ERROR)
  virtual void AnswerConnected() = 0;             // inbound: the 200 to the CONNECT
  virtual void NoteBatch() = 0;                   // ask for a FlushToSocket before the read returns
  // The stream forgets the splice (it stays JS's, or the rest of it is dropped when `dropRest`).
  virtual void LeaveStream(bool dropRest) = 0;
  virtual void Report(SpliceEnd end, uint64_t toPeer, uint64_t fromPeer, const std::string& reason) = 0;
  virtual void Pump() = 0;                        // let the protocol write what it now has

 private:
  static void OnAlloc(uv_handle_t* h, size_t suggested, uv_buf_t* buf);
  static void OnRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf);
  static void OnWrite(uv_write_t* req, int status);
  static void OnShutdown(uv_shutdown_t* req, int status);
  static void OnConnect(uv_connect_t* req, int status);
  static void OnTimer(uv_timer_t* t);
  static void OnClosed(uv_handle_t* h);
  static uint64_t NowMs() { return uv_hrtime() / 1000000; }

  void WriteToSocket(std::vector<uint8_t>&& bytes);
  void MaybeShutdown();
  void MaybeClose();
  void SocketFailed(const std::string& why);
  void Finish(SpliceEnd end, const std::string& reason);
  void Detach(bool dropRest);
  void InitHandles();
  void CloseHandles();
  void ReadStart();

  uv_loop_t* loop_;
  size_t highWater_;
  size_t lowWater_;
  uv_tcp_t tcp_;
  uv_timer_t timer_;
  uv_connect_t connectReq_;
  uv_shutdown_t shutdownReq_;
  int handles_ = 0;
  bool attached_ = true;      // the stream still knows this splice
  bool connecting_ = false;
  bool deferStart_ = false;
  bool open_ = false;         // socket usable (adopted and started, or connected)
  bool reading_ = false;
  bool socketEnded_ = false;  // the socket sent FIN
  bool peerEnded_ = false;    // the peer ended its side of the stream
  bool shutdownDone_ = false;
  bool shutdownSent_ = false;
  bool finished_ = false;     // the close record was reported
  bool closing_ = false;
  std::vector<uint8_t> initial_;              // app bytes read before the hand-over
  std::vector<std::vector<uint8_t>> early_;   // peer bytes that came before the socket was ready
  std::vector<uint8_t> batch_;                // peer bytes of the current read, written as one
  size_t writesPending_ = 0;
  uint64_t toPeer_ = 0;
  uint64_t fromPeer_ = 0;
  uint64_t idleMs_;
  uint64_t lastActivityMs_ = 0;
  uint64_t connectDeadlineMs_ = 0;
  SpliceEnd end_ = kSpliceDone;
};

}  // namespace meshgate
