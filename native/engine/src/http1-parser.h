// An incremental HTTP/1 request parser over llhttp (Debian's node-llhttp, compiled into the addon
// with hidden symbols: see binding.gyp), for the engine's app listeners (docs/native-http.md).
//
// Execute() stops where the engine has something to do: the request head is complete (ask JS,
// then read the body), the message is complete (the next pipelined request starts at the
// returned offset), the request upgraded (the rest is tunnel bytes), or an error. Body bytes,
// with chunked framing removed, go to the sink as they are parsed. Errors are decisions: the
// status to answer and the mesh error code (core/errors.ts), never a bare reset.
//
// Limits are enforced by position, so the result never depends on how the bytes were split
// across reads: a head (request line + fields + the blank line) of more than maxHeaderBytes, or
// with more than maxHeaderCount fields, is 431 E_HEADERS_TOO_LARGE; so is a trailer section over
// the same byte limit. llhttp is run strict (no lenient flags), as node runs it by default.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <llhttp.h>

namespace meshgate {
namespace engine {

enum class Http1BodyKind : uint8_t { kNone = 0, kLength = 1, kChunked = 2 };

struct Http1Limits {
  size_t maxHeaderBytes = 64 * 1024;   // limits.maxHeaderBytes
  size_t maxHeaderCount = 256;         // fields in the head (and in the trailers)
  size_t maxChunkExtensionBytes = 16 * 1024;  // per chunk (node's own bound)
};

struct Http1Head {
  std::string method;
  std::string target;
  uint8_t versionMajor = 1;
  uint8_t versionMinor = 1;
  std::vector<std::string> headers;  // flat name/value pairs, as received
  bool keepAlive = true;
  bool upgrade = false;              // Upgrade (with Connection: upgrade) or CONNECT
  bool expectContinue = false;       // expect: 100-continue
  Http1BodyKind body = Http1BodyKind::kNone;
  uint64_t contentLength = 0;        // body == kLength
  size_t headBytes = 0;              // request line to the blank line, inclusive
};

struct Http1Error {
  int status = 0;         // 400 or 431
  const char* code = "";  // E_BAD_REQUEST or E_HEADERS_TOO_LARGE
  std::string name;       // llhttp's errno name (HPE_...), or a limit's name
  std::string reason;     // llhttp's reason, or the limit's
  uint64_t offset = 0;    // byte offset in the connection's stream where it was found
};

class Http1BodySink {
 public:
  virtual ~Http1BodySink() = default;
  virtual void OnBody(const uint8_t* data, size_t len) = 0;
};

class Http1RequestParser {
 public:
  enum class Status { kNeedMore, kHead, kMessageEnd, kUpgrade, kError };
  struct Step {
    Status status;
    size_t consumed;  // bytes of this call's input used; the rest is for the next call
  };

  explicit Http1RequestParser(const Http1Limits& limits, Http1BodySink* sink = nullptr);
  Http1RequestParser(const Http1RequestParser&) = delete;
  Http1RequestParser& operator=(const Http1RequestParser&) = delete;

  Step Execute(const uint8_t* data, size_t len);
  // The app closed its sending side: fine between requests, an error inside one.
  Step Finish();

  const Http1Head& head() const { return head_; }
  const std::vector<std::string>& trailers() const { return trailers_; }
  const Http1Error& error() const { return error_; }
  uint64_t offset() const { return offset_; }  // bytes consumed on this connection
  uint32_t requests() const { return requests_; }  // heads completed

 private:
  enum class Phase { kHead, kBody, kTrailers, kUpgraded, kFailed };

  static int OnMessageBegin(llhttp_t* p);
  static int OnUrl(llhttp_t* p, const char* at, size_t len);
  static int OnUrlComplete(llhttp_t* p);
  static int OnHeaderField(llhttp_t* p, const char* at, size_t len);
  static int OnHeaderFieldComplete(llhttp_t* p);
  static int OnHeaderValue(llhttp_t* p, const char* at, size_t len);
  static int OnHeaderValueComplete(llhttp_t* p);
  static int OnHeadersComplete(llhttp_t* p);
  static int OnBody(llhttp_t* p, const char* at, size_t len);
  static int OnChunkHeader(llhttp_t* p);
  static int OnChunkExtension(llhttp_t* p, const char* at, size_t len);
  static int OnChunkComplete(llhttp_t* p);
  static int OnMessageComplete(llhttp_t* p);

  static constexpr uint64_t kNoViolation = ~uint64_t{0};
  // Debian's llhttp 8.1 takes a bare LF as a line end and "\r\n\r" + any byte as the end of a
  // head; node's llhttp 9 (the JS path) refuses both, as RFC 9112 §2.2 allows and smuggling
  // defence needs. In a head or trailer section every CR must be followed by LF and every LF
  // preceded by CR: returns the stream offset of the first byte that breaks it, or kNoViolation.
  uint64_t ScanLineEnds(const uint8_t* p, size_t n, uint64_t base);
  Step FailLineEnd(uint64_t at);
  Step Fail(int status, const char* code, const char* name, const std::string& reason, uint64_t offset);
  Step FromLlhttpError(llhttp_errno_t err, const uint8_t* data);
  std::vector<std::string>& fields() { return phase_ == Phase::kTrailers ? trailers_ : head_.headers; }

  Http1Limits limits_;
  Http1BodySink* sink_;
  llhttp_settings_t settings_;
  llhttp_t parser_;
  Phase phase_ = Phase::kHead;
  Http1Head head_;
  std::vector<std::string> trailers_;
  Http1Error error_;
  uint64_t offset_ = 0;          // stream offset of the current Execute's first byte
  size_t sectionBytes_ = 0;      // bytes of the head / trailer section so far (before this call)
  size_t fieldCount_ = 0;
  size_t extensionBytes_ = 0;
  bool inValue_ = false;         // the last field callback was a value
  bool tooManyFields_ = false;
  bool prevCr_ = false;          // the last section byte scanned was a CR
  bool lineStart_ = false;       // ... was the LF of a CRLF
  bool badFieldName_ = false;
  bool badTarget_ = false;
  bool badVersion_ = false;
  bool extensionsTooLarge_ = false;
  enum class Pause { kNone, kHead, kLastChunk, kMessage };
  Pause pause_ = Pause::kNone;   // which callback paused llhttp
  uint32_t requests_ = 0;
};

}  // namespace engine
}  // namespace meshgate
