// An HTTP/3 request stream spliced to a TCP socket (see quic-splice.h).
#include "quic-splice.h"

#include <nghttp3/nghttp3.h>

#include "connection.h"
#include "endpoint.h"

namespace meshgate {

QuicSplice::QuicSplice(Connection* conn, Stream* stream, uint64_t idleMs, uint64_t sendHighWater)
    : SocketSplice(conn->endpoint_->loop(), idleMs, static_cast<size_t>(sendHighWater)),
      endpoint_(conn->endpoint_), conn_(conn), stream_(stream), connId_(conn->id()), sid_(stream->id) {}

// Socket bytes are moved into the stream's send queue, held there until acknowledged: so the
// queue (what pauses the socket's reads) counts bytes in flight too, as a JS writer's does.
size_t QuicSplice::QueueToPeer(std::vector<uint8_t>&& bytes) {
  return static_cast<size_t>(conn_->QueueSpliced(stream_, std::move(bytes)));
}

size_t QuicSplice::QueuedToPeer() const { return static_cast<size_t>(stream_->queued); }

void QuicSplice::EndToPeer() { conn_->End(sid_, nullptr); }

void QuicSplice::CreditPeer(size_t n) { conn_->CreditStream(sid_, n); }

void QuicSplice::ResetPeer(bool idle) {
  conn_->ResetStream(sid_, idle ? NGHTTP3_H3_REQUEST_CANCELLED : NGHTTP3_H3_CONNECT_ERROR);
}

void QuicSplice::AnswerConnected() {
  std::string error;
  if (conn_->SubmitResponse(sid_, {":status", "200"}, false, &error) != 0) ResetPeer(false);
}

void QuicSplice::NoteBatch() { endpoint_->NoteSpliceBatch(connId_, sid_); }

void QuicSplice::LeaveStream(bool dropRest) {
  if (stream_ != nullptr && stream_->splice.get() == this) {
    stream_->splice.release();
    if (dropRest) stream_->dropBody = true;
  }
  conn_ = nullptr;
  stream_ = nullptr;
}

void QuicSplice::Report(SpliceEnd end, uint64_t toPeer, uint64_t fromPeer, const std::string& reason) {
  endpoint_->Push(Event{kEventSpliceClose, connId_, sid_, 0, end,
                        {std::to_string(toPeer), std::to_string(fromPeer), reason}, {}});
  endpoint_->Wake();
}

// Only while attached: the endpoint may be gone once the connection is (Report always runs
// while the connection lives, and wakes the pump itself).
void QuicSplice::Pump() {
  if (conn_ != nullptr) endpoint_->Pump();
}

}  // namespace meshgate
