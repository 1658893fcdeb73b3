// meshgate_quic — shared definitions of the QUIC/HTTP/3 addon.
//
// The addon keeps every packet in C++: a UDP endpoint (uv_udp_t) feeds datagrams to ngtcp2
// connections, nghttp3 turns stream bytes into HTTP/3 messages, and only messages (headers,
// body chunks, trailers, resets, closes) cross into JavaScript, as `Event`s delivered in a batch
// once the C libraries have returned (never from inside one of their callbacks).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <uv.h>

namespace meshgate {

class Endpoint;
class Connection;
struct Stream;

// Monotonic clock in nanoseconds, the unit of ngtcp2_tstamp.
inline uint64_t NowNs() { return uv_hrtime(); }

// What JavaScript is told. The numeric values are part of the binding's contract with
// native/quic.ts (EVENT_KIND there).
enum EventKind : int32_t {
  kEventHandshake = 1,        // conn ready: headers = [peer URI SAN, ALPN, server: peer chain hex]
  kEventClose = 2,            // conn gone: code = error code, headers = [reason]
  kEventHeaders = 3,          // stream header section: flag bit 0 = trailers, bit 1 = FIN
  kEventData = 4,             // stream body chunk (JS answers whether it wants more)
  kEventEnd = 5,              // stream FIN received
  kEventStreamClose = 6,      // stream closed both ways: code = app error code
  kEventReset = 7,            // peer RESET_STREAM (flag 0) or STOP_SENDING (flag 1): code
  kEventDrain = 8,            // stream send buffer fell below the low-water mark
  kEventGoaway = 9,           // peer sent GOAWAY: code = id
  kEventStreamsAvailable = 10, // the peer raised our bidi stream limit
  kEventSpliceClose = 11       // a spliced stream is over: flag = SpliceEnd, [toPeer, fromPeer, reason]
};

struct Event {
  EventKind kind;
  uint32_t conn;
  int64_t stream;
  uint64_t code;
  int32_t flag;
  std::vector<std::string> strings;
  std::vector<uint8_t> data;
};

// Byte-string key of a connection ID, for the endpoint's routing table.
inline std::string CidKey(const uint8_t* data, size_t len) {
  return std::string(reinterpret_cast<const char*>(data), len);
}

}  // namespace meshgate
