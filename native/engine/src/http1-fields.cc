// Field rules shared by the engine's HTTP/1 sides (see http1-fields.h).
#include "http1-fields.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <string_view>

namespace meshgate {
namespace engine {

bool HopByHop(const std::string& name) {
  // Every field of every head is asked: the length is compared before any byte.
  static const std::string_view kNames[] = {"connection", "keep-alive", "proxy-connection", "proxy-authenticate",
                                            "proxy-authorization", "te", "trailer", "transfer-encoding",
                                            "upgrade", "http2-settings", "host"};
  for (std::string_view n : kNames) {
    if (name.size() == n.size() && memcmp(name.data(), n.data(), n.size()) == 0) return true;
  }
  return false;
}

bool IsToken(const std::string& s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (!ok) {
      switch (c) {
        case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+': case '-': case '.':
        case '^': case '_': case '`': case '|': case '~': ok = true; break;
        default: break;
      }
    }
    if (!ok) return false;
  }
  return true;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  return s;
}

std::vector<std::string> ConnectionTokens(const std::vector<std::string>& flat) {
  std::vector<std::string> out;
  for (size_t i = 0; i + 1 < flat.size(); i += 2) {
    if (!Is(flat[i], "connection")) continue;
    const std::string& v = flat[i + 1];
    size_t start = 0;
    while (start <= v.size()) {
      size_t comma = v.find(',', start);
      if (comma == std::string::npos) comma = v.size();
      std::string token = v.substr(start, comma - start);
      size_t a = token.find_first_not_of(" \t");
      size_t b = token.find_last_not_of(" \t");
      if (a != std::string::npos) out.push_back(Lower(token.substr(a, b - a + 1)));
      start = comma + 1;
    }
  }
  return out;
}

bool Listed(const std::vector<std::string>& list, const std::string& name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

void AppendField(std::vector<uint8_t>& out, const std::string& name, const std::string& value) {
  out.insert(out.end(), name.begin(), name.end());
  out.push_back(':');
  out.push_back(' ');
  out.insert(out.end(), value.begin(), value.end());
  out.push_back('\r');
  out.push_back('\n');
}

void Append(std::vector<uint8_t>& out, const char* s) { out.insert(out.end(), s, s + strlen(s)); }
void Append(std::vector<uint8_t>& out, const std::string& s) { out.insert(out.end(), s.begin(), s.end()); }

std::vector<std::string> StreamFields(std::vector<std::string> flat, bool trailers) {
  std::vector<std::string> named = ConnectionTokens(flat);
  // Filtered in place: the pairs kept move to the front (no second list per response).
  size_t kept = 0;
  for (size_t i = 0; i + 1 < flat.size(); i += 2) {
    const std::string& name = flat[i];
    if (name.empty()) continue;
    if (name[0] == ':' && (trailers || !Is(name, ":status"))) continue;
    if (name[0] != ':' && (HopByHop(name) || Listed(named, name))) continue;
    if (trailers && Is(name, "content-length")) continue;
    if (kept != i) {
      flat[kept] = std::move(flat[i]);
      flat[kept + 1] = std::move(flat[i + 1]);
    }
    kept += 2;
  }
  flat.resize(kept);
  return flat;
}

void LowerNames(std::vector<std::string>& flat) {
  for (size_t i = 0; i < flat.size(); i += 2) flat[i] = Lower(std::move(flat[i]));
}

}  // namespace engine
}  // namespace meshgate
