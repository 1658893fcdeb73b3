// The HTTP/1 request parser over llhttp (see http1-parser.h for what it promises).
#include "http1-parser.h"

#include "http1-fields.h"

#include <strings.h>

namespace meshgate {
namespace engine {

namespace {

Http1RequestParser* Self(llhttp_t* p) { return static_cast<Http1RequestParser*>(p->data); }

bool EqualsNoCase(const std::string& a, const char* b) { return strcasecmp(a.c_str(), b) == 0; }

}  // namespace

uint64_t Http1RequestParser::ScanLineEnds(const uint8_t* p, size_t n, uint64_t base) {
  for (size_t i = 0; i < n; i++) {
    uint8_t c = p[i];
    if (prevCr_ != (c == '\n')) return base + i;  // CR not followed by LF, or LF without CR
    // A field line starting with whitespace: obs-fold (RFC 9112 §5.2), which llhttp 8.1 joins to
    // the previous value and node's llhttp 9 refuses; refused here too.
    if (lineStart_ && (c == ' ' || c == '\t')) return base + i;
    prevCr_ = c == '\r';
    lineStart_ = c == '\n';
  }
  return kNoViolation;
}

Http1RequestParser::Step Http1RequestParser::FailLineEnd(uint64_t at) {
  return Fail(400, "E_BAD_REQUEST", "HPE_STRICT",
              "a CR without LF, an LF without CR, or a folded field line (obs-fold) in a header section", at);
}

Http1RequestParser::Http1RequestParser(const Http1Limits& limits, Http1BodySink* sink)
    : limits_(limits), sink_(sink) {
  llhttp_settings_init(&settings_);
  settings_.on_message_begin = OnMessageBegin;
  settings_.on_url = OnUrl;
  settings_.on_url_complete = OnUrlComplete;
  settings_.on_header_field = OnHeaderField;
  settings_.on_header_field_complete = OnHeaderFieldComplete;
  settings_.on_header_value = OnHeaderValue;
  settings_.on_header_value_complete = OnHeaderValueComplete;
  settings_.on_headers_complete = OnHeadersComplete;
  settings_.on_body = OnBody;
  settings_.on_chunk_header = OnChunkHeader;
  settings_.on_chunk_extension_name = OnChunkExtension;
  settings_.on_chunk_extension_value = OnChunkExtension;
  settings_.on_chunk_complete = OnChunkComplete;
  settings_.on_message_complete = OnMessageComplete;
  llhttp_init(&parser_, HTTP_REQUEST, &settings_);
  parser_.data = this;
}

Http1RequestParser::Step Http1RequestParser::Execute(const uint8_t* data, size_t len) {
  size_t done = 0;
  for (;;) {
    if (phase_ == Phase::kFailed) return {Status::kError, done};
    if (phase_ == Phase::kUpgraded) return {Status::kUpgrade, done};
    const uint8_t* at = data + done;
    size_t feed = len - done;
    // A head or trailer section is fed at most one byte past its limit, so the limit is found at
    // the same byte however the input was split, and no field grows past it.
    const bool section = phase_ == Phase::kHead || phase_ == Phase::kTrailers;
    if (section) {
      size_t allowance = limits_.maxHeaderBytes + 1 - sectionBytes_;
      if (feed > allowance) feed = allowance;
    }
    pause_ = Pause::kNone;
    llhttp_errno_t err = llhttp_execute(&parser_, reinterpret_cast<const char*>(at), feed);
    if (err == HPE_OK) {
      if (section) {
        uint64_t bad = ScanLineEnds(at, feed, offset_);
        if (bad != kNoViolation) return FailLineEnd(bad);
      }
      if (section) sectionBytes_ += feed;
      offset_ += feed;
      done += feed;
      if (section && sectionBytes_ > limits_.maxHeaderBytes) {
        return Fail(431, "E_HEADERS_TOO_LARGE", "HEADERS_TOO_LARGE",
                    std::string(phase_ == Phase::kHead ? "request head" : "trailer section") + " larger than " +
                        std::to_string(limits_.maxHeaderBytes) + " bytes",
                    offset_ - 1);
      }
      return {Status::kNeedMore, done};
    }
    const char* pos = llhttp_get_error_pos(&parser_);
    size_t used = pos == nullptr ? 0 : static_cast<size_t>(reinterpret_cast<const uint8_t*>(pos) - at);
    if (section) {
      // The first fault in byte order wins: a bad line end before llhttp's stop is reported, so
      // the answer does not depend on where the reads were split.
      uint64_t bad = ScanLineEnds(at, used, offset_);
      if (bad == kNoViolation && prevCr_ && (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) &&
          (pause_ == Pause::kHead || pause_ == Pause::kMessage || err == HPE_PAUSED_UPGRADE)) {
        bad = offset_ + used;  // the section ended on a lone CR (llhttp 8.1 takes "\r\n\r" + any byte)
      }
      if (bad != kNoViolation) {
        done += static_cast<size_t>(bad - offset_);
        offset_ = bad;
        Step failed = FailLineEnd(bad);
        failed.consumed = done;
        return failed;
      }
      prevCr_ = false;
      lineStart_ = false;
    }
    if (err == HPE_PAUSED_UPGRADE) {
      offset_ += used;
      done += used;
      phase_ = Phase::kUpgraded;
      return {Status::kUpgrade, done};
    }
    if (err != HPE_PAUSED) {
      Step failed = FromLlhttpError(err, at);
      failed.consumed = done;
      return failed;
    }
    llhttp_resume(&parser_);
    offset_ += used;
    done += used;
    switch (pause_) {
      case Pause::kHead: {
        size_t headBytes = sectionBytes_ + used;
        if (headBytes > limits_.maxHeaderBytes) {
          return Fail(431, "E_HEADERS_TOO_LARGE", "HEADERS_TOO_LARGE",
                      "request head larger than " + std::to_string(limits_.maxHeaderBytes) + " bytes", offset_ - 1);
        }
        head_.headBytes = headBytes;
        phase_ = Phase::kBody;
        sectionBytes_ = 0;
        requests_++;
        return {Status::kHead, done};
      }
      case Pause::kLastChunk:
        phase_ = Phase::kTrailers;
        sectionBytes_ = 0;
        fieldCount_ = 0;
        continue;
      case Pause::kMessage:
        phase_ = Phase::kHead;
        sectionBytes_ = 0;
        fieldCount_ = 0;
        return {Status::kMessageEnd, done};
      case Pause::kNone:
        return Fail(400, "E_BAD_REQUEST", "HPE_PAUSED", "parser paused unexpectedly", offset_);
    }
  }
}

Http1RequestParser::Step Http1RequestParser::Finish() {
  if (phase_ == Phase::kFailed) return {Status::kError, 0};
  if (phase_ == Phase::kUpgraded) return {Status::kUpgrade, 0};
  // Between requests (nothing of the next one read yet) the close is clean.
  if (phase_ == Phase::kHead && sectionBytes_ == 0) return {Status::kNeedMore, 0};
  llhttp_errno_t err = llhttp_finish(&parser_);
  // Only empty lines of the next request were read (RFC 9112 §2.2 lets a server skip them).
  if (err == HPE_OK && phase_ == Phase::kHead) return {Status::kNeedMore, 0};
  if (err == HPE_OK) {
    return Fail(400, "E_BAD_REQUEST", "HPE_INVALID_EOF_STATE", "connection closed inside a request", offset_);
  }
  return Fail(400, "E_BAD_REQUEST", llhttp_errno_name(err),
              std::string("connection closed inside a request: ") + llhttp_get_error_reason(&parser_), offset_);
}

Http1RequestParser::Step Http1RequestParser::Fail(int status, const char* code, const char* name,
                                                  const std::string& reason, uint64_t offset) {
  phase_ = Phase::kFailed;
  error_.status = status;
  error_.code = code;
  error_.name = name;
  error_.reason = reason;
  error_.offset = offset;
  return {Status::kError, 0};
}

Http1RequestParser::Step Http1RequestParser::FromLlhttpError(llhttp_errno_t err, const uint8_t* data) {
  const char* pos = llhttp_get_error_pos(&parser_);
  uint64_t at = offset_ + (pos == nullptr ? 0 : static_cast<uint64_t>(reinterpret_cast<const uint8_t*>(pos) - data));
  if (tooManyFields_) {
    return Fail(431, "E_HEADERS_TOO_LARGE", "TOO_MANY_FIELDS",
                std::string(phase_ == Phase::kTrailers ? "trailer section" : "request head") + " has more than " +
                    std::to_string(limits_.maxHeaderCount) + " fields",
                at);
  }
  if (badTarget_) {
    return Fail(400, "E_BAD_REQUEST", "HPE_INVALID_URL", "a control, space or non-ASCII octet in the request target", at);
  }
  if (badVersion_) {
    return Fail(400, "E_BAD_REQUEST", "HPE_INVALID_VERSION", "not an HTTP/1.0 or HTTP/1.1 request line", at);
  }
  if (badFieldName_) {
    return Fail(400, "E_BAD_REQUEST", "HPE_INVALID_HEADER_TOKEN",
                "whitespace or a character that is not a token in a field name", at);
  }
  if (extensionsTooLarge_) {
    return Fail(400, "E_BAD_REQUEST", "CHUNK_EXTENSIONS_TOO_LARGE",
                "chunk extensions larger than " + std::to_string(limits_.maxChunkExtensionBytes) + " bytes", at);
  }
  const char* reason = llhttp_get_error_reason(&parser_);
  return Fail(400, "E_BAD_REQUEST", llhttp_errno_name(err), reason == nullptr ? "" : reason, at);
}

int Http1RequestParser::OnMessageBegin(llhttp_t* p) {
  Http1RequestParser* self = Self(p);
  self->head_ = Http1Head();
  self->trailers_.clear();
  self->fieldCount_ = 0;
  self->inValue_ = false;
  return 0;
}

int Http1RequestParser::OnUrl(llhttp_t* p, const char* at, size_t len) {
  Self(p)->head_.target.append(at, len);
  return 0;
}

// Checked once the whole target is known (the same byte whatever the reads), so the answer does
// not depend on the split. Debian's llhttp 8.1 takes octets >= 0x80 in a request target; node's
// llhttp 9 and RFC 9112 §3.2 do not (a target is ASCII; anything else is percent-encoded).
int Http1RequestParser::OnUrlComplete(llhttp_t* p) {
  Http1RequestParser* self = Self(p);
  for (unsigned char c : self->head_.target) {
    if (c <= 0x20 || c >= 0x7f) {
      self->badTarget_ = true;
      return HPE_USER;
    }
  }
  return 0;
}

int Http1RequestParser::OnHeaderField(llhttp_t* p, const char* at, size_t len) {
  Http1RequestParser* self = Self(p);
  std::vector<std::string>& fields = self->fields();
  if (self->inValue_ || fields.empty() || fields.size() % 2 == 0) {
    if (fields.capacity() == 0) fields.reserve(kFieldsReserved);
    fields.emplace_back();
    self->inValue_ = false;
  }
  fields.back().append(at, len);
  return 0;
}

int Http1RequestParser::OnHeaderFieldComplete(llhttp_t* p) {
  Http1RequestParser* self = Self(p);
  if (++self->fieldCount_ > self->limits_.maxHeaderCount) {
    self->tooManyFields_ = true;
    return HPE_USER;
  }
  const std::vector<std::string>& fields = self->fields();
  // Debian's llhttp 8.1 lets a space into a field name ("Ho st: x", "Host : x"), which RFC 9112
  // §5.1 says a server must answer with 400 (a smuggling vector when another hop reads the name
  // differently); llhttp 9 refuses it, so the name llhttp found is checked here.
  if (fields.size() % 2 == 0 || !IsToken(fields.back())) {  // even: no name began (": x")
    self->badFieldName_ = true;
    return HPE_USER;
  }
  self->fields().emplace_back();  // the value, appended to by OnHeaderValue (may stay empty)
  self->inValue_ = true;
  return 0;
}

int Http1RequestParser::OnHeaderValue(llhttp_t* p, const char* at, size_t len) {
  Self(p)->fields().back().append(at, len);
  return 0;
}

// llhttp 8.1 leaves trailing whitespace in a value; it is not part of it (RFC 9110 §5.5), and
// node:http drops it too.
int Http1RequestParser::OnHeaderValueComplete(llhttp_t* p) {
  std::string& value = Self(p)->fields().back();
  size_t end = value.size();
  while (end > 0 && (value[end - 1] == ' ' || value[end - 1] == '\t')) end--;
  value.resize(end);
  return 0;
}

int Http1RequestParser::OnHeadersComplete(llhttp_t* p) {
  Http1RequestParser* self = Self(p);
  // HTTP/1.0 and 1.1 only: llhttp 8.1 also takes a request line with no version (HTTP/0.9) and
  // other majors, which node's llhttp 9 refuses.
  if (p->http_major != 1 || p->http_minor > 1) {
    self->badVersion_ = true;
    return HPE_USER;
  }
  Http1Head& head = self->head_;
  head.method = llhttp_method_name(static_cast<llhttp_method_t>(p->method));
  head.versionMajor = p->http_major;
  head.versionMinor = p->http_minor;
  head.keepAlive = llhttp_should_keep_alive(p) != 0;
  head.upgrade = p->upgrade != 0;
  if (p->flags & F_CHUNKED) {
    head.body = Http1BodyKind::kChunked;
  } else if ((p->flags & F_CONTENT_LENGTH) && p->content_length > 0) {
    head.body = Http1BodyKind::kLength;
    head.contentLength = p->content_length;
  }
  for (size_t i = 0; i + 1 < head.headers.size(); i += 2) {
    if (EqualsNoCase(head.headers[i], "expect") && EqualsNoCase(head.headers[i + 1], "100-continue")) {
      head.expectContinue = true;
    }
  }
  self->inValue_ = false;
  self->pause_ = Pause::kHead;
  return HPE_PAUSED;
}

int Http1RequestParser::OnBody(llhttp_t* p, const char* at, size_t len) {
  Http1RequestParser* self = Self(p);
  if (self->sink_ != nullptr) self->sink_->OnBody(reinterpret_cast<const uint8_t*>(at), len);
  return 0;
}

int Http1RequestParser::OnChunkHeader(llhttp_t* p) {
  Http1RequestParser* self = Self(p);
  self->extensionBytes_ = 0;
  if (p->content_length != 0) return 0;
  // The last chunk: what follows is the trailer section, held to the head's byte limit.
  self->pause_ = Pause::kLastChunk;
  self->inValue_ = false;
  return HPE_PAUSED;
}

int Http1RequestParser::OnChunkExtension(llhttp_t* p, const char* at, size_t len) {
  Http1RequestParser* self = Self(p);
  self->extensionBytes_ += len;
  if (self->extensionBytes_ > self->limits_.maxChunkExtensionBytes) {
    self->extensionsTooLarge_ = true;
    return HPE_USER;
  }
  return 0;
}

int Http1RequestParser::OnChunkComplete(llhttp_t* p) {
  Self(p)->extensionBytes_ = 0;
  return 0;
}

int Http1RequestParser::OnMessageComplete(llhttp_t* p) {
  Http1RequestParser* self = Self(p);
  // An upgrade ends the HTTP/1 stream: llhttp returns HPE_PAUSED_UPGRADE right after this.
  if (p->upgrade) return 0;
  self->pause_ = Pause::kMessage;
  return HPE_PAUSED;
}

}  // namespace engine
}  // namespace meshgate
