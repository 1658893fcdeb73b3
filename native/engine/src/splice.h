// A CONNECT stream of the h2 engine spliced to a TCP socket: the socket half is SocketSplice
// (native/src/socket-splice.h, shared with the QUIC addon); this binds it to an nghttp2 stream.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine.h"

namespace meshgate {
namespace engine {

class Splice final : public SocketSplice {
 public:
  Splice(Session* session, Stream* stream, uint64_t idleMs);
  // The stream closed (h2 error code; 0 = clean) or the session died (`sessionGone`).
  void OnStreamClosed(uint32_t h2code, bool sessionGone);

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
  void Rst(uint32_t code);

  Engine* engine_;
  Session* session_;  // null once the stream has closed
  Stream* stream_;    // null once the stream has closed
  uint32_t conn_;
  int32_t sid_;
};

}  // namespace engine
}  // namespace meshgate
