// An h2 engine stream spliced to a TCP socket (see splice.h).
#include "splice.h"

namespace meshgate {
namespace engine {

Splice::Splice(Session* session, Stream* stream, uint64_t idleMs)
    : SocketSplice(session->engine()->loop(), idleMs), engine_(session->engine()), session_(session),
      stream_(stream), conn_(session->id()), sid_(stream->id) {}

size_t Splice::QueueToPeer(std::vector<uint8_t>&& bytes) {
  stream_->outBytes += bytes.size();
  stream_->out.push_back(std::move(bytes));
  session_->StreamIoChanged(stream_);
  return stream_->outBytes;
}

size_t Splice::QueuedToPeer() const { return stream_->outBytes; }

void Splice::EndToPeer() {
  stream_->outEnd = true;
  session_->StreamIoChanged(stream_);
}

void Splice::CreditPeer(size_t n) { session_->ConsumeStream(sid_, n); }

void Splice::Rst(uint32_t code) {
  if (session_->h2() == nullptr) return;
  nghttp2_submit_rst_stream(session_->h2(), NGHTTP2_FLAG_NONE, sid_, code);
  session_->MarkDirty();
}

void Splice::ResetPeer(bool idle) { Rst(idle ? NGHTTP2_CANCEL : NGHTTP2_CONNECT_ERROR); }

void Splice::AnswerConnected() { session_->Respond(sid_, {":status", "200"}, false); }

void Splice::NoteBatch() { session_->NoteSpliceBatch(this); }

void Splice::LeaveStream(bool dropRest) {
  if (stream_ != nullptr && stream_->splice.get() == this) {
    stream_->splice.release();
    if (dropRest) stream_->dropBody = true;
  }
  session_ = nullptr;
  stream_ = nullptr;
}

void Splice::Report(SpliceEnd end, uint64_t toPeer, uint64_t fromPeer, const std::string& reason) {
  engine_->Push(Event{kEventSpliceClose, conn_, sid_, 0, end, {std::to_string(toPeer), std::to_string(fromPeer), reason}, {}});
}

void Splice::Pump() { engine_->Pump(); }

void Splice::OnStreamClosed(uint32_t h2code, bool sessionGone) {
  session_ = nullptr;
  stream_ = nullptr;
  SocketSplice::OnStreamClosed(h2code == 0, sessionGone ? "the peer session closed"
                                                        : "the stream was reset (HTTP/2 code " + std::to_string(h2code) + ")");
}

}  // namespace engine
}  // namespace meshgate
