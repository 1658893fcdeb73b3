// A CONNECT stream of the QUIC addon spliced to a TCP socket: the socket half is SocketSplice
// (socket-splice.h, shared with the h2 engine); this binds it to an HTTP/3 request stream, so
// h3 tunnel bytes never cross into JavaScript either.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "socket-splice.h"

namespace meshgate {

class Connection;
class Endpoint;
struct Stream;

class QuicSplice final : public SocketSplice {
 public:
  QuicSplice(Connection* conn, Stream* stream, uint64_t idleMs, uint64_t sendHighWater);
  // The stream closed (`clean`: H3_NO_ERROR both ways) or its connection died.
  void OnStreamClosed(bool clean, const std::string& why) {
    conn_ = nullptr;
    stream_ = nullptr;
    SocketSplice::OnStreamClosed(clean, why);
  }

 private:
  size_t QueueToPeer(std::vector<uint8_t>&& bytes) override;
  size_t QueuedToPeer() const override;
  void EndToPeer() override;
  void CreditPeer(size_t n) override;
  void ResetPeer(bool idle) override;
  void AnswerConnected() override;
  void NoteBatch() override;
  void LeaveStream(bool dropRest) override;
  void Report(SpliceEnd end, uint64_t toPeer, uint64_t fromPeer, const std::string& reason) override;
  void Pump() override;

  Endpoint* endpoint_;
  Connection* conn_;  // null once the stream has closed
  Stream* stream_;    // null once the stream has closed
  uint32_t connId_;
  int64_t sid_;
};

}  // namespace meshgate
