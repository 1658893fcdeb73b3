// A CONNECT stream spliced to a TCP socket (see splice.h).
#include "splice.h"

#include <cstring>

namespace meshgate {
namespace engine {

namespace {
struct SocketWrite {
  uv_write_t req;
  std::vector<uint8_t> bytes;
  Splice* splice;
};
}  // namespace

Splice::Splice(Session* session, Stream* stream, uint64_t idleMs)
    : engine_(session->engine()), session_(session), stream_(stream), conn_(session->id()),
      sid_(stream->id), idleMs_(idleMs) {
  lastActivityMs_ = Engine::NowMs();
}

// The socket and the timer, both closed by CloseHandles(); the timer never keeps the loop alive.
void Splice::InitHandles() {
  uv_tcp_init(engine_->loop(), &tcp_);
  tcp_.data = this;
  uv_timer_init(engine_->loop(), &timer_);
  timer_.data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(&timer_));
  handles_ = 2;
}

int Splice::AdoptFd(int fd, std::vector<uint8_t>&& initial) {
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
  if (idleMs_ > 0) uv_timer_start(&timer_, OnTimer, std::min<uint64_t>(idleMs_, 1000), std::min<uint64_t>(idleMs_, 1000));
  return 0;
}

int Splice::ConnectTo(const sockaddr* target, uint64_t connectMs) {
  InitHandles();
  connecting_ = true;
  connectReq_.data = this;
  connectDeadlineMs_ = Engine::NowMs() + connectMs;
  int rv = uv_tcp_connect(&connectReq_, &tcp_, target, OnConnect);
  if (rv != 0) {
    // As a refused connect: the stream goes back to JS, which answers it (a throw here would
    // leave it unanswered on the wire and JS unable to answer it).
    connecting_ = false;
    Finish(kSpliceConnectRefused, std::string(uv_err_name(rv)) + " (" + uv_strerror(rv) + ")");
    return 0;
  }
  uint64_t period = std::min<uint64_t>(std::max<uint64_t>(connectMs, 1), idleMs_ > 0 ? std::min<uint64_t>(idleMs_, 1000) : 1000);
  uv_timer_start(&timer_, OnTimer, std::min<uint64_t>(connectMs, period), period);
  return 0;
}

void Splice::OnConnect(uv_connect_t* req, int status) {
  auto* self = static_cast<Splice*>(req->data);
  self->connecting_ = false;
  if (self->closing_ || self->finished_) return;
  if (status != 0) {
    self->Finish(kSpliceConnectRefused, std::string(uv_err_name(status)) + " (" + uv_strerror(status) + ")");
  } else if (self->session_ != nullptr) {
    uv_tcp_nodelay(&self->tcp_, 1);
    self->lastActivityMs_ = Engine::NowMs();
    self->session_->Respond(self->sid_, {":status", "200"}, false);
    self->Start();
    std::vector<std::vector<uint8_t>> early;
    early.swap(self->early_);
    for (auto& bytes : early) self->WriteToSocket(std::move(bytes));
    self->MaybeShutdown();
  }
  self->engine_->Pump();
}

void Splice::Start(std::vector<uint8_t>&& toSocket) {
  if (open_ || closing_) return;
  open_ = true;
  if (!toSocket.empty()) {
    fromPeer_ += toSocket.size();
    WriteToSocket(std::move(toSocket));
  }
  std::vector<std::vector<uint8_t>> early;
  early.swap(early_);
  for (auto& bytes : early) WriteToSocket(std::move(bytes));
  if (!initial_.empty() && stream_ != nullptr) {
    toPeer_ += initial_.size();
    stream_->outBytes += initial_.size();
    stream_->out.push_back(std::move(initial_));
    session_->StreamIoChanged(stream_);
  }
  ReadStart();
}

void Splice::RefusedByPeer(const std::string& status) {
  Finish(kSpliceRefusedByPeer, "the peer answered the CONNECT with " + (status.empty() ? std::string("no status") : status));
}

void Splice::ReadStart() {
  if (reading_ || socketEnded_ || closing_ || !open_) return;
  if (uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), OnAlloc, OnRead) == 0) reading_ = true;
}

void Splice::OnAlloc(uv_handle_t*, size_t, uv_buf_t* buf) {
  buf->base = static_cast<char*>(malloc(kReadSize));
  buf->len = buf->base == nullptr ? 0 : kReadSize;
}

void Splice::OnRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<Splice*>(s->data);
  if (nread > 0 && self->stream_ != nullptr && !self->closing_) {
    self->lastActivityMs_ = Engine::NowMs();
    self->toPeer_ += static_cast<uint64_t>(nread);
    const auto* bytes = reinterpret_cast<const uint8_t*>(buf->base);
    self->stream_->out.emplace_back(bytes, bytes + nread);
    self->stream_->outBytes += static_cast<size_t>(nread);
    if (self->stream_->outBytes >= kHighWater) {
      uv_read_stop(s);
      self->reading_ = false;
    }
    self->session_->StreamIoChanged(self->stream_);
  } else if (nread < 0) {
    uv_read_stop(s);
    self->reading_ = false;
    if (nread == UV_EOF) {
      self->socketEnded_ = true;
      if (self->stream_ != nullptr) {
        self->stream_->outEnd = true;
        self->session_->StreamIoChanged(self->stream_);
      }
    } else {
      self->SocketFailed(std::string("socket read: ") + uv_err_name(static_cast<int>(nread)));
    }
  }
  free(buf->base);
  self->engine_->Pump();
}

void Splice::OnBodyTaken() {
  if (stream_ != nullptr && stream_->outBytes < kLowWater) ReadStart();
}

void Splice::OnPeerData(const uint8_t* data, size_t len) {
  lastActivityMs_ = Engine::NowMs();
  fromPeer_ += len;
  if (connecting_ || !open_) {
    early_.emplace_back(data, data + len);
    return;
  }
  // DATA frames of one read of the peer session go out in one socket write (FlushToSocket).
  if (batch_.empty()) {
    batch_.reserve(256 * 1024);
    if (session_ != nullptr) session_->NoteSpliceBatch(this);
  }
  batch_.insert(batch_.end(), data, data + len);
}

void Splice::FlushToSocket() {
  if (batch_.empty() || closing_) return;
  std::vector<uint8_t> bytes;
  bytes.swap(batch_);
  WriteToSocket(std::move(bytes));
}

void Splice::WriteToSocket(std::vector<uint8_t>&& bytes) {
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
    SocketFailed(std::string("socket write: ") + uv_err_name(rv));
  }
}

void Splice::OnWrite(uv_write_t* req, int status) {
  auto* w = static_cast<SocketWrite*>(req->data);
  Splice* self = w->splice;
  size_t len = w->bytes.size();
  delete w;
  self->writesPending_ -= len;
  if (status == UV_ECANCELED || self->closing_) return;
  if (status != 0) {
    self->SocketFailed(std::string("socket write: ") + uv_err_name(status));
  } else {
    // Credit the peer's window only now that the bytes are in the socket: backpressure.
    if (self->session_ != nullptr) self->session_->ConsumeStream(self->sid_, len);
    self->MaybeShutdown();
    self->MaybeClose();
  }
  self->engine_->Pump();
}

void Splice::OnPeerEnd() {
  FlushToSocket();
  peerEnded_ = true;
  MaybeShutdown();
}

void Splice::MaybeShutdown() {
  if (!peerEnded_ || shutdownSent_ || connecting_ || writesPending_ > 0 || closing_ || !open_) return;
  if (finished_ && end_ != kSpliceDone) return;
  shutdownSent_ = true;
  shutdownReq_.data = this;
  if (uv_shutdown(&shutdownReq_, reinterpret_cast<uv_stream_t*>(&tcp_), OnShutdown) != 0) {
    shutdownDone_ = true;
  }
}

void Splice::OnShutdown(uv_shutdown_t* req, int) {
  auto* self = static_cast<Splice*>(req->data);
  self->shutdownDone_ = true;
  self->MaybeClose();
}

// After a clean end, the socket closes once its writes and FIN are out and the stream is gone.
void Splice::MaybeClose() {
  if (!finished_ || session_ != nullptr || closing_ || writesPending_ > 0) return;
  if (open_ && peerEnded_ && !shutdownDone_) return;
  CloseHandles();
}

void Splice::SocketFailed(const std::string& why) {
  if (finished_) return;
  if (session_ != nullptr && session_->h2() != nullptr) {
    nghttp2_submit_rst_stream(session_->h2(), NGHTTP2_FLAG_NONE, sid_, NGHTTP2_CONNECT_ERROR);
    session_->MarkDirty();
  }
  end_ = kSpliceSocketError;
  reason_ = why;
  Finish(kSpliceSocketError, why);
}

void Splice::OnTimer(uv_timer_t* t) {
  auto* self = static_cast<Splice*>(t->data);
  if (self->finished_ || self->closing_) return;
  uint64_t now = Engine::NowMs();
  if (self->connecting_) {
    if (now >= self->connectDeadlineMs_) self->Finish(kSpliceConnectTimeout, "connect timed out");
    self->engine_->Pump();
    return;
  }
  if (self->idleMs_ > 0 && now - self->lastActivityMs_ >= self->idleMs_) {
    if (self->session_ != nullptr && self->session_->h2() != nullptr) {
      nghttp2_submit_rst_stream(self->session_->h2(), NGHTTP2_FLAG_NONE, self->sid_, NGHTTP2_CANCEL);
      self->session_->MarkDirty();
    }
    self->Finish(kSpliceIdle, "tunnel idle for " + std::to_string(self->idleMs_) + " ms");
  }
  self->engine_->Pump();
}

// The close record goes to JS once; for failures before the tunnel opened (refused, connect
// failure) the stream stays with JS, which answers it.
void Splice::Finish(SpliceEnd end, const std::string& reason) {
  if (finished_) return;
  finished_ = true;
  end_ = end;
  reason_ = reason;
  engine_->Push(Event{kEventSpliceClose, conn_, sid_, 0, end,
                      {std::to_string(toPeer_), std::to_string(fromPeer_), reason}, {}});
  if (end == kSpliceConnectRefused || end == kSpliceConnectTimeout || end == kSpliceRefusedByPeer) {
    // The stream goes back to JS to be answered or failed; the splice leaves it now.
    if (stream_ != nullptr && stream_->splice.get() == this) stream_->splice.release();
    session_ = nullptr;
    stream_ = nullptr;
    CloseHandles();
    return;
  }
  if (end != kSpliceDone) {
    // The stream is being reset: it leaves the splice, and what still arrives on it is dropped.
    if (stream_ != nullptr && stream_->splice.get() == this) {
      stream_->splice.release();
      stream_->dropBody = true;
    }
    session_ = nullptr;
    stream_ = nullptr;
    CloseHandles();
  }
}

void Splice::OnStreamClosed(uint32_t h2code, bool sessionGone) {
  if (h2code == 0) FlushToSocket();
  Session* session = session_;
  session_ = nullptr;
  stream_ = nullptr;
  (void)session;
  if (!finished_) {
    if (h2code == 0 && socketEnded_ && peerEnded_) {
      Finish(kSpliceDone, "");
    } else {
      Finish(kSpliceStreamReset, sessionGone ? "the peer session closed" : "the stream was reset (HTTP/2 code " + std::to_string(h2code) + ")");
    }
  }
  // Let queued socket writes and the FIN go out before closing.
  if (end_ == kSpliceDone) {
    MaybeShutdown();
    MaybeClose();
    return;
  }
  CloseHandles();
}

void Splice::CloseHandles() {
  if (closing_) return;
  closing_ = true;
  if (handles_ == 0) {
    delete this;
    return;
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), OnClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), OnClosed);
}

void Splice::OnClosed(uv_handle_t* h) {
  auto* self = static_cast<Splice*>(h->data);
  if (--self->handles_ == 0) {
    // Still owned by a stream only if the stream is alive (never: Finish/OnStreamClosed released it).
    delete self;
  }
}

}  // namespace engine
}  // namespace meshgate
