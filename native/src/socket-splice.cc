// The socket half of a spliced CONNECT stream (see socket-splice.h).
#include "socket-splice.h"

#include <unistd.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <cerrno>
#include <cstdlib>

namespace meshgate {

namespace {
// Splices alive on this thread (the batch pool below is emptied when none is left).
thread_local size_t liveSplices = 0;

struct SocketWrite {
  uv_write_t req;
  std::vector<uint8_t> bytes;
  SocketSplice* splice;
};

std::string UvError(const char* what, int code) {
  return std::string(what) + uv_err_name(code) + " (" + uv_strerror(code) + ")";
}
}  // namespace

SocketSplice::SocketSplice(uv_loop_t* loop, uint64_t idleMs, size_t highWater)
    : loop_(loop), highWater_(highWater), lowWater_(highWater / 4), idleMs_(idleMs) {
  lastActivityMs_ = NowMs();
  ++liveSplices;
}

// The socket and the timer, both closed by CloseHandles(); the timer never keeps the loop alive.
void SocketSplice::InitHandles() {
  uv_tcp_init(loop_, &tcp_);
  tcp_.data = this;
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(&timer_));
  handles_ = 2;
}

int SocketSplice::AdoptFd(int fd, std::vector<uint8_t>&& initial) {
  int copy = dup(fd);
  if (copy < 0) return uv_translate_sys_error(errno);
  InitHandles();
  int rv = uv_tcp_open(&tcp_, copy);
  if (rv != 0) {
    close(copy);
    return rv;
  }
  uv_tcp_nodelay(&tcp_, 1);
  initial_ = std::move(initial);
  if (idleMs_ > 0) {
    uint64_t period = std::min<uint64_t>(idleMs_, 1000);
    uv_timer_start(&timer_, OnTimer, period, period);
  }
  return 0;
}

void SocketSplice::ConnectTo(const sockaddr* target, uint64_t connectMs) {
  InitHandles();
  connecting_ = true;
  connectReq_.data = this;
  connectDeadlineMs_ = NowMs() + connectMs;
  int rv = uv_tcp_connect(&connectReq_, &tcp_, target, OnConnect);
  if (rv != 0) {
    // As a refused connect: the stream goes back to JS, which answers it (a throw here would
    // leave it unanswered on the wire and JS unable to answer it).
    connecting_ = false;
    Finish(kSpliceConnectRefused, UvError("", rv));
    return;
  }
  uint64_t period = std::min<uint64_t>(std::max<uint64_t>(connectMs, 1), idleMs_ > 0 ? std::min<uint64_t>(idleMs_, 1000) : 1000);
  uv_timer_start(&timer_, OnTimer, std::min<uint64_t>(connectMs, period), period);
}

void SocketSplice::OnConnect(uv_connect_t* req, int status) {
  auto* self = static_cast<SocketSplice*>(req->data);
  self->connecting_ = false;
  if (self->closing_ || self->finished_) return;
  if (status != 0) {
    self->Finish(kSpliceConnectRefused, UvError("", status));
  } else if (self->attached_) {
    uv_tcp_nodelay(&self->tcp_, 1);
    self->lastActivityMs_ = NowMs();
    self->AnswerConnected();
    self->Start();
    self->MaybeShutdown();
  }
  self->Pump();
}

void SocketSplice::Start(std::vector<uint8_t>&& toSocket) {
  if (open_ || closing_) return;
  open_ = true;
  if (!toSocket.empty()) {
    fromPeer_ += toSocket.size();
    WriteToSocket(std::move(toSocket));
  }
  std::vector<std::vector<uint8_t>> early;
  early.swap(early_);
  for (auto& bytes : early) WriteToSocket(std::move(bytes));
  if (!initial_.empty() && attached_) {
    toPeer_ += initial_.size();
    QueueToPeer(std::move(initial_));
    initial_.clear();
  }
  ReadStart();
}

void SocketSplice::RefusedByPeer(const std::string& status) {
  Finish(kSpliceRefusedByPeer, "the peer answered the CONNECT with " + (status.empty() ? std::string("no status") : status));
}

void SocketSplice::ReadStart() {
  if (reading_ || socketEnded_ || closing_ || !open_) return;
  if (uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), OnAlloc, OnRead) == 0) reading_ = true;
}

void SocketSplice::OnAlloc(uv_handle_t*, size_t, uv_buf_t* buf) {
  buf->base = static_cast<char*>(malloc(kReadSize));
  buf->len = buf->base == nullptr ? 0 : kReadSize;
}

void SocketSplice::OnRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<SocketSplice*>(s->data);
  if (nread > 0 && self->attached_ && !self->closing_) {
    self->lastActivityMs_ = NowMs();
    self->toPeer_ += static_cast<uint64_t>(nread);
    const auto* bytes = reinterpret_cast<const uint8_t*>(buf->base);
    if (self->QueueToPeer(std::vector<uint8_t>(bytes, bytes + nread)) >= self->highWater_) {
      uv_read_stop(s);
      self->reading_ = false;
    }
  } else if (nread < 0) {
    uv_read_stop(s);
    self->reading_ = false;
    if (nread == UV_EOF) {
      self->socketEnded_ = true;
      if (self->attached_) self->EndToPeer();
    } else {
      self->SocketFailed(UvError("socket read: ", static_cast<int>(nread)));
    }
  }
  free(buf->base);
  self->Pump();
}

void SocketSplice::OnBodyTaken() {
  if (attached_ && QueuedToPeer() < lowWater_) ReadStart();
}

namespace {

// Batch buffers of written socket writes, kept for the next batch of any splice on this thread.
// A fresh 256 KB vector per batch is above malloc's mmap/trim thresholds: every batch paid page
// faults and zeroing of new pages, then returned them to the kernel (perf: ~12 % of a native h2
// tunnel's CPU). A buffer stays out of the pool until its write's callback, which libuv runs on
// the next loop turn, and one read of the peer session gives each busy splice a batch: with four
// tunnels at once a pool of 4 ran dry and page faults in the batch copy were 18 % of the inbound
// proxy's CPU (perf, iperf3 -P4). So the pool grows with the splices alive on the thread
// (kPoolPerSplice each, at most kPoolBuffers) and shrinks as they end: an idle process keeps none
// of it, one long-lived quiet tunnel at most kPoolPerSplice × kPoolMaxCapacity.
constexpr size_t kBatchReserve = 256 * 1024;
constexpr size_t kPoolPerSplice = 8;
constexpr size_t kPoolBuffers = 32;
constexpr size_t kPoolMaxCapacity = 512 * 1024;
thread_local std::vector<std::vector<uint8_t>> batchPool;
size_t PoolCap() { return std::min(kPoolBuffers, kPoolPerSplice * liveSplices); }

std::vector<uint8_t> AcquireBatch() {
  if (!batchPool.empty()) {
    std::vector<uint8_t> v = std::move(batchPool.back());
    batchPool.pop_back();
    return v;
  }
  std::vector<uint8_t> v;
  v.reserve(kBatchReserve);
  return v;
}

void ReleaseBatch(std::vector<uint8_t>&& v) {
  if (batchPool.size() >= PoolCap() || v.capacity() < kBatchReserve ||
      v.capacity() > kPoolMaxCapacity) {
    return;
  }
  v.clear();
  batchPool.push_back(std::move(v));
}

}  // namespace

// glibc raises its mmap threshold to the size of the largest mmapped block freed so far (up to
// 32 MB), and its trim threshold to twice that. After the first batch buffer is freed, later ones
// come from the brk heap, and when the pool shrinks (the tunnels end) their pages stay with the
// process wherever a live block sits above them: after iperf3 -P4 through the pair the inbound
// kept 78 MB in one of four runs (57.5 MB once malloc_trim(0) was called by hand, as after the
// other three). With the threshold fixed, blocks from 128 KiB up (the batch buffers, 256–512
// KiB) are mmapped and unmapped when freed: 57.6–57.9 MB after each of four runs. The pool keeps
// them from being mapped anew per batch.
void PinMallocThresholds() {
#if defined(__GLIBC__)
  static const bool pinned = mallopt(M_MMAP_THRESHOLD, 128 * 1024) == 1;
  (void)pinned;
#endif
}

SocketSplice::~SocketSplice() {
  --liveSplices;
  if (batchPool.size() > PoolCap()) batchPool.resize(PoolCap());
  if (liveSplices == 0) batchPool.shrink_to_fit();
}

void SocketSplice::OnPeerData(const uint8_t* data, size_t len) {
  lastActivityMs_ = NowMs();
  fromPeer_ += len;
  if (connecting_ || !open_) {
    early_.emplace_back(data, data + len);
    return;
  }
  if (batch_.empty()) {
    if (batch_.capacity() < kBatchReserve) batch_ = AcquireBatch();
    if (attached_) NoteBatch();
  }
  batch_.insert(batch_.end(), data, data + len);
}

void SocketSplice::FlushToSocket() {
  if (batch_.empty() || closing_) return;
  std::vector<uint8_t> bytes;
  bytes.swap(batch_);
  WriteToSocket(std::move(bytes));
}

void SocketSplice::WriteToSocket(std::vector<uint8_t>&& bytes) {
  if (closing_) return;
  auto* w = new SocketWrite();
  w->bytes = std::move(bytes);
  w->splice = this;
  w->req.data = w;
  uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(w->bytes.data()), static_cast<unsigned>(w->bytes.size()));
  writesPending_ += w->bytes.size();
  int rv = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&tcp_), &b, 1, OnWrite);
  if (rv != 0) {
    writesPending_ -= w->bytes.size();
    delete w;
    SocketFailed(UvError("socket write: ", rv));
  }
}

void SocketSplice::OnWrite(uv_write_t* req, int status) {
  auto* w = static_cast<SocketWrite*>(req->data);
  SocketSplice* self = w->splice;
  size_t len = w->bytes.size();
  ReleaseBatch(std::move(w->bytes));
  delete w;
  self->writesPending_ -= len;
  if (status == UV_ECANCELED || self->closing_) return;
  if (status != 0) {
    self->SocketFailed(UvError("socket write: ", status));
  } else {
    // Credit the peer's window only now that the bytes are in the socket: backpressure.
    if (self->attached_) self->CreditPeer(len);
    self->MaybeShutdown();
    self->MaybeClose();
  }
  self->Pump();
}

void SocketSplice::OnPeerEnd() {
  FlushToSocket();
  peerEnded_ = true;
  MaybeShutdown();
}

void SocketSplice::MaybeShutdown() {
  if (!peerEnded_ || shutdownSent_ || connecting_ || writesPending_ > 0 || closing_ || !open_) return;
  if (finished_ && end_ != kSpliceDone) return;
  shutdownSent_ = true;
  shutdownReq_.data = this;
  if (uv_shutdown(&shutdownReq_, reinterpret_cast<uv_stream_t*>(&tcp_), OnShutdown) != 0) {
    shutdownDone_ = true;
  }
}

void SocketSplice::OnShutdown(uv_shutdown_t* req, int) {
  auto* self = static_cast<SocketSplice*>(req->data);
  self->shutdownDone_ = true;
  self->MaybeClose();
}

// After a clean end, the socket closes once its writes and FIN are out and the stream is gone.
void SocketSplice::MaybeClose() {
  if (!finished_ || attached_ || closing_ || writesPending_ > 0) return;
  if (open_ && peerEnded_ && !shutdownDone_) return;
  CloseHandles();
}

void SocketSplice::SocketFailed(const std::string& why) {
  if (finished_) return;
  if (attached_) ResetPeer(false);
  Finish(kSpliceSocketError, why);
}

void SocketSplice::OnTimer(uv_timer_t* t) {
  auto* self = static_cast<SocketSplice*>(t->data);
  if (self->finished_ || self->closing_) return;
  uint64_t now = NowMs();
  if (self->connecting_) {
    if (now >= self->connectDeadlineMs_) self->Finish(kSpliceConnectTimeout, "connect timed out");
  } else if (self->idleMs_ > 0 && now - self->lastActivityMs_ >= self->idleMs_) {
    if (self->attached_) self->ResetPeer(true);
    self->Finish(kSpliceIdle, "tunnel idle for " + std::to_string(self->idleMs_) + " ms");
  }
  self->Pump();
}

void SocketSplice::Detach(bool dropRest) {
  if (!attached_) return;
  attached_ = false;
  LeaveStream(dropRest);
}

// The close record is reported once. Failures before the tunnel opened (refused, connect
// failure) hand the stream back to JS, which answers it; other failures reset the stream, and
// what still arrives on it is dropped.
void SocketSplice::Finish(SpliceEnd end, const std::string& reason) {
  if (finished_) return;
  finished_ = true;
  end_ = end;
  Report(end, toPeer_, fromPeer_, reason);
  if (end == kSpliceDone) return;
  bool handedBack = end == kSpliceConnectRefused || end == kSpliceConnectTimeout || end == kSpliceRefusedByPeer;
  Detach(!handedBack);
  CloseHandles();
}

void SocketSplice::OnStreamClosed(bool clean, const std::string& why) {
  if (clean) FlushToSocket();
  attached_ = false;  // the stream has already let go of this splice
  if (!finished_) {
    if (clean && socketEnded_ && peerEnded_) Finish(kSpliceDone, "");
    else Finish(kSpliceStreamReset, why);
  }
  // Let queued socket writes and the FIN go out before closing.
  if (end_ == kSpliceDone) {
    MaybeShutdown();
    MaybeClose();
    return;
  }
  CloseHandles();
}

void SocketSplice::CloseHandles() {
  if (closing_) return;
  closing_ = true;
  if (handles_ == 0) {
    delete this;
    return;
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), OnClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), OnClosed);
}

void SocketSplice::OnClosed(uv_handle_t* h) {
  auto* self = static_cast<SocketSplice*>(h->data);
  if (--self->handles_ == 0) delete self;
}

}  // namespace meshgate
