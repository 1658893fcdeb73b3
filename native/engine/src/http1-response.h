// An incremental HTTP/1 response parser over llhttp (the copy compiled into the addon, as for
// requests: http1-parser.h), for the engine's deliveries to local workloads
// (workload-http1.h). One response per request: Reset() before each, then Execute() over what
// the workload sends until it says the final response is complete. Informational (1xx)
// responses are skipped. Body bytes, with chunked framing removed, and the head and trailers go
// to the sink as they are parsed.
//
// Limits: a head or a trailer section over maxHeaderBytes, or with more than maxHeaderCount
// fields, is an error, as is anything llhttp refuses (strict mode, no lenient flags).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <llhttp.h>

namespace meshgate {
namespace engine {

class Http1ResponseSink {
 public:
  virtual ~Http1ResponseSink() = default;
  // The final response's head: status and flat name/value pairs, names as received.
  virtual void OnResponseHead(int status, std::vector<std::string>&& fields) = 0;
  virtual void OnResponseBody(const uint8_t* data, size_t len) = 0;
  // The response is complete; `keepAlive`: the connection may carry another request.
  virtual void OnResponseEnd(std::vector<std::string>&& trailers, bool keepAlive) = 0;
};

class Http1ResponseParser {
 public:
  enum class Result { kNeedMore, kDone, kError };

  Http1ResponseParser(size_t maxHeaderBytes, size_t maxHeaderCount, Http1ResponseSink* sink);
  Http1ResponseParser(const Http1ResponseParser&) = delete;
  Http1ResponseParser& operator=(const Http1ResponseParser&) = delete;

  // Ready for the response to a new request, told to `sink`; a HEAD request's response has no body.
  void Reset(bool headRequest, Http1ResponseSink* sink);
  // Parses `len` bytes; kDone once the final response is complete (`*used` says how many bytes
  // it took; any after it are not part of it).
  Result Execute(const uint8_t* data, size_t len, size_t* used);
  // The workload closed its side: ends a body delimited by the close, else an error.
  Result Finish();
  bool started() const { return started_; }  // a byte of the response was parsed
  const std::string& error() const { return error_; }

 private:
  static int OnMessageBegin(llhttp_t* p);
  static int OnHeaderField(llhttp_t* p, const char* at, size_t len);
  static int OnHeaderFieldComplete(llhttp_t* p);
  static int OnHeaderValue(llhttp_t* p, const char* at, size_t len);
  static int OnHeadersComplete(llhttp_t* p);
  static int OnBody(llhttp_t* p, const char* at, size_t len);
  static int OnMessageComplete(llhttp_t* p);
  int AddBytes(size_t len);

  size_t maxHeaderBytes_;
  size_t maxHeaderCount_;
  Http1ResponseSink* sink_;
  llhttp_settings_t settings_;
  llhttp_t parser_;
  std::vector<std::string> fields_;
  size_t sectionBytes_ = 0;
  bool nameDone_ = true;  // the last field's name is complete: a name callback starts a new field
  bool headRequest_ = false;
  bool inTrailers_ = false;
  bool informational_ = false;
  bool started_ = false;
  bool done_ = false;
  std::string error_;
};

}  // namespace engine
}  // namespace meshgate
