// The HTTP/1 response parser over llhttp (see http1-response.h for what it promises).
#include "http1-response.h"

#include "http1-fields.h"

namespace meshgate {
namespace engine {

namespace {
Http1ResponseParser* Self(llhttp_t* p) { return static_cast<Http1ResponseParser*>(p->data); }
}  // namespace

Http1ResponseParser::Http1ResponseParser(size_t maxHeaderBytes, size_t maxHeaderCount, Http1ResponseSink* sink)
    : maxHeaderBytes_(maxHeaderBytes), maxHeaderCount_(maxHeaderCount), sink_(sink) {
  llhttp_settings_init(&settings_);
  settings_.on_message_begin = OnMessageBegin;
  settings_.on_header_field = OnHeaderField;
  settings_.on_header_field_complete = OnHeaderFieldComplete;
  settings_.on_header_value = OnHeaderValue;
  settings_.on_headers_complete = OnHeadersComplete;
  settings_.on_body = OnBody;
  settings_.on_message_complete = OnMessageComplete;
  Reset(false, sink);
}

void Http1ResponseParser::Reset(bool headRequest, Http1ResponseSink* sink) {
  sink_ = sink;
  llhttp_init(&parser_, HTTP_RESPONSE, &settings_);
  parser_.data = this;
  fields_.clear();
  sectionBytes_ = 0;
  nameDone_ = true;
  headRequest_ = headRequest;
  inTrailers_ = false;
  informational_ = false;
  started_ = false;
  done_ = false;
  error_.clear();
}

Http1ResponseParser::Result Http1ResponseParser::Execute(const uint8_t* data, size_t len, size_t* used) {
  *used = 0;
  if (!error_.empty()) return Result::kError;
  if (done_) return Result::kDone;
  if (len > 0) started_ = true;
  llhttp_errno_t err = llhttp_execute(&parser_, reinterpret_cast<const char*>(data), len);
  if (err == HPE_OK) {
    *used = len;
    return Result::kNeedMore;
  }
  const char* pos = llhttp_get_error_pos(&parser_);
  *used = pos == nullptr ? 0 : static_cast<size_t>(reinterpret_cast<const uint8_t*>(pos) - data);
  if (err == HPE_PAUSED && done_) return Result::kDone;
  if (error_.empty()) {
    error_ = std::string(llhttp_errno_name(err)) + ": " + (llhttp_get_error_reason(&parser_) == nullptr ? "" : llhttp_get_error_reason(&parser_));
  }
  return Result::kError;
}

Http1ResponseParser::Result Http1ResponseParser::Finish() {
  if (!error_.empty()) return Result::kError;
  if (done_) return Result::kDone;
  if (!started_) {
    error_ = "the connection closed before a response";
    return Result::kError;
  }
  llhttp_errno_t err = llhttp_finish(&parser_);
  if (done_) return Result::kDone;
  if (error_.empty()) {
    error_ = err == HPE_OK ? "the connection closed inside the response"
                           : std::string(llhttp_errno_name(err)) + ": the connection closed inside the response";
  }
  return Result::kError;
}

int Http1ResponseParser::AddBytes(size_t len) {
  sectionBytes_ += len;
  if (sectionBytes_ > maxHeaderBytes_) {
    error_ = std::string(inTrailers_ ? "trailer section" : "response head") + " larger than " + std::to_string(maxHeaderBytes_) + " bytes";
    return HPE_USER;
  }
  return 0;
}

int Http1ResponseParser::OnMessageBegin(llhttp_t* p) {
  Http1ResponseParser* self = Self(p);
  self->fields_.clear();
  self->sectionBytes_ = 0;
  self->nameDone_ = true;
  self->inTrailers_ = false;
  return 0;
}

int Http1ResponseParser::OnHeaderField(llhttp_t* p, const char* at, size_t len) {
  Http1ResponseParser* self = Self(p);
  if (self->AddBytes(len) != 0) return HPE_USER;
  if (self->nameDone_) {
    if (self->fields_.size() / 2 >= self->maxHeaderCount_) {
      self->error_ = "more than " + std::to_string(self->maxHeaderCount_) + " fields in a header section";
      return HPE_USER;
    }
    if (self->fields_.capacity() == 0) self->fields_.reserve(kFieldsReserved);
    self->fields_.emplace_back();
    self->fields_.emplace_back();
    self->nameDone_ = false;
  }
  self->fields_[self->fields_.size() - 2].append(at, len);
  return 0;
}

int Http1ResponseParser::OnHeaderFieldComplete(llhttp_t* p) {
  Self(p)->nameDone_ = true;
  return 0;
}

int Http1ResponseParser::OnHeaderValue(llhttp_t* p, const char* at, size_t len) {
  Http1ResponseParser* self = Self(p);
  if (self->AddBytes(len) != 0) return HPE_USER;
  if (self->fields_.empty()) return 0;
  self->fields_.back().append(at, len);
  return 0;
}

int Http1ResponseParser::OnHeadersComplete(llhttp_t* p) {
  Http1ResponseParser* self = Self(p);
  int status = p->status_code;
  self->informational_ = status >= 100 && status < 200;
  if (self->informational_) {
    // 101 would switch protocols, which a request delivered here never asked for.
    if (status == 101) {
      self->error_ = "101 Switching Protocols to a request that did not ask for an upgrade";
      return HPE_USER;
    }
    self->fields_.clear();
    return 0;
  }
  self->inTrailers_ = true;
  self->nameDone_ = true;
  self->sectionBytes_ = 0;
  std::vector<std::string> fields;
  fields.swap(self->fields_);
  self->sink_->OnResponseHead(status, std::move(fields));
  return self->headRequest_ ? 1 : 0;  // 1: no body follows this head (RFC 9110 §9.3.2)
}

int Http1ResponseParser::OnBody(llhttp_t* p, const char* at, size_t len) {
  Self(p)->sink_->OnResponseBody(reinterpret_cast<const uint8_t*>(at), len);
  return 0;
}

int Http1ResponseParser::OnMessageComplete(llhttp_t* p) {
  Http1ResponseParser* self = Self(p);
  if (self->informational_) {
    self->informational_ = false;
    return 0;  // the final response follows
  }
  self->done_ = true;
  std::vector<std::string> trailers;
  trailers.swap(self->fields_);
  self->sink_->OnResponseEnd(std::move(trailers), llhttp_should_keep_alive(p) != 0);
  return HPE_PAUSED;
}

}  // namespace engine
}  // namespace meshgate
