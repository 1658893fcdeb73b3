// Field rules shared by the engine's app and workload sides (app-http1.h, app-h2c.h,
// workload-http1.h, workload-h2c.h): which fields are hop-by-hop, writing HTTP/1 field lines, and
// which fields of a response may go on an HTTP/2 stream.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace meshgate {
namespace engine {

// Slots (names and values) a flat field list reserves when its first field arrives: a head of up
// to 12 fields then grows it once instead of five times.
constexpr size_t kFieldsReserved = 24;

// `s` is exactly the literal `lit`, lengths compared first. The field loops ask this of every
// field of every head; `s == "literal"` was a call into libstdc++'s compare, a strlen and a
// memcmp each time (memcmp alone was ~2 % of the inbound's samples).
template <size_t N>
inline bool Is(const std::string& s, const char (&lit)[N]) {
  return s.size() == N - 1 && memcmp(s.data(), lit, N - 1) == 0;
}

// Connection-specific fields (RFC 9110 §7.6.1), as src/http/headers.ts strips them.
bool HopByHop(const std::string& name);
// A non-empty RFC 9110 §5.6.2 token (field names, methods).
bool IsToken(const std::string& s);
std::string Lower(std::string s);
// Lower-cases the names of flat name/value pairs (HTTP/1 names are case-insensitive; values are not).
void LowerNames(std::vector<std::string>& flat);
// The names the Connection fields of `flat` (lower-case names) list: hop-by-hop too.
std::vector<std::string> ConnectionTokens(const std::vector<std::string>& flat);
bool Listed(const std::vector<std::string>& list, const std::string& name);
// The fields of a response head (or, with `trailers`, its trailers) that may go on an HTTP/2
// stream, in their order: no pseudo-header but :status, no connection-specific field (RFC 9113
// §8.2.2), none that the Connection fields name, and no content-length among trailers.
std::vector<std::string> StreamFields(std::vector<std::string> flat, bool trailers);
// "name: value\r\n"
void AppendField(std::vector<uint8_t>& out, const std::string& name, const std::string& value);
void Append(std::vector<uint8_t>& out, const char* s);
void Append(std::vector<uint8_t>& out, const std::string& s);

}  // namespace engine
}  // namespace meshgate
