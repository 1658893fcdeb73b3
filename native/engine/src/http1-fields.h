// Field rules shared by the engine's two HTTP/1 sides (the app's, app-http1.h, and the
// workload's, workload-http1.h): which fields are hop-by-hop, and writing field lines.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace meshgate {
namespace engine {

// Connection-specific fields (RFC 9110 §7.6.1), as src/http/headers.ts strips them.
bool HopByHop(const std::string& name);
// A non-empty RFC 9110 §5.6.2 token (field names, methods).
bool IsToken(const std::string& s);
std::string Lower(std::string s);
// The names the Connection fields of `flat` (lower-case names) list: hop-by-hop too.
std::vector<std::string> ConnectionTokens(const std::vector<std::string>& flat);
bool Listed(const std::vector<std::string>& list, const std::string& name);
// "name: value\r\n"
void AppendField(std::vector<uint8_t>& out, const std::string& name, const std::string& value);
void Append(std::vector<uint8_t>& out, const char* s);
void Append(std::vector<uint8_t>& out, const std::string& s);

}  // namespace engine
}  // namespace meshgate
