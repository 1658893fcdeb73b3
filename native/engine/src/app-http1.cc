// HTTP/1 app connections served by the engine (see app-http1.h).
#include "app-http1.h"

#include "app-h2c.h"
#include "http1-fields.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>

namespace meshgate {
namespace engine {

namespace {

// Queued request body bytes on the peer stream before the app's socket is no longer read, and
// the level at which reading resumes.
constexpr size_t kBodyHighWater = 256 * 1024;
// Bytes read but not parsed yet (read while a request is decided or answered) after which the
// connection stops reading until the parser takes them.
constexpr size_t kUnparsedBound = 64 * 1024;
constexpr size_t kBodyLowWater = 64 * 1024;
constexpr size_t kReadBufferBytes = 64 * 1024;

// Reason phrases (RFC 9110 §15); an unknown status gets an empty one, which RFC 9112 §4 allows.
const char* ReasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "";
  }
}

// The latin1 bytes of string `v` into `out` (which keeps its capacity).
void ReadLatin1(const Napi::Value& v, std::string* out) {
  size_t len = 0;
  napi_get_value_string_latin1(v.Env(), v, nullptr, 0, &len);
  out->resize(len);
  napi_get_value_string_latin1(v.Env(), v, &(*out)[0], len + 1, &len);
  out->resize(len);
}

std::string Latin1Arg(const Napi::Value& v) {
  std::string out;
  if (v.IsString()) ReadLatin1(v, &out);
  return out;
}

// A request's field section as JavaScript passes it: one latin1 string, the fields joined by NUL,
// and their count. A field holding a NUL itself would split differently and fails the count:
// false, nothing forwarded (one string crosses instead of one per name and value).
bool JoinedFields(const Napi::Value& joined, const Napi::Value& count, std::vector<std::string>* out) {
  if (!joined.IsString() || !count.IsNumber()) return false;
  // Read into a buffer kept from call to call (one per request otherwise); nothing here calls
  // back into JS, so no second call can come while it is in use.
  static thread_local std::string all;
  ReadLatin1(joined, &all);
  uint32_t expected = count.As<Napi::Number>().Uint32Value();
  out->reserve(expected);
  size_t start = 0;
  for (;;) {
    size_t end = all.find('\0', start);
    if (end == std::string::npos) {
      out->emplace_back(all, start);
      break;
    }
    out->emplace_back(all, start, end - start);
    start = end + 1;
  }
  return out->size() == expected;
}
// Argument i as a number, 0 when it is absent or not one.
double NumberArg(const Napi::CallbackInfo& info, size_t i) {
  return info.Length() > i && info[i].IsNumber() ? info[i].As<Napi::Number>().DoubleValue() : 0;
}

// The bytes of Buffer argument i (none when it is absent or not one).
std::vector<uint8_t> BytesArg(const Napi::CallbackInfo& info, size_t i) {
  if (info.Length() <= i || !info[i].IsTypedArray()) return {};
  Napi::Uint8Array b = info[i].As<Napi::Uint8Array>();
  return std::vector<uint8_t>(b.Data(), b.Data() + b.ByteLength());
}

// The peer session that arguments i (an Engine) and i + 1 (its session id) name, or null.
Session* SessionArg(const Napi::CallbackInfo& info, size_t i) {
  Engine* engine = info.Length() > i ? EngineFromValue(info[i]) : nullptr;
  return engine == nullptr || !info[i + 1].IsNumber() ? nullptr : engine->FindSession(info[i + 1].As<Napi::Number>().Uint32Value());
}

Napi::Value Latin1(Napi::Env env, const std::string& s) {
  napi_value out;
  if (napi_create_string_latin1(env, s.data(), s.size(), &out) != napi_ok) return env.Undefined();
  return Napi::Value(env, out);
}

double Number(const Napi::Object& o, const char* key, double fallback) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : fallback;
}


}  // namespace

Event DoneEvent(uint32_t conn, uint32_t token, int status, int32_t flags, const std::string& failure, const std::string& peerError,
                const std::string& message, uint64_t requestBytes, uint64_t responseBytes, double headMs, double totalMs) {
  Event ev{static_cast<EventKind>(kAppDone), conn, static_cast<int32_t>(token), static_cast<uint64_t>(status), flags,
           {failure, peerError, message}, {}};
  ev.nums[0] = static_cast<double>(requestBytes);
  ev.nums[1] = static_cast<double>(responseBytes);
  ev.nums[2] = headMs;
  ev.nums[3] = totalMs;
  ev.numCount = 4;
  return ev;
}

// --- AppConn ------------------------------------------------------------------------------------

AppConn::AppConn(AppHost* host, uint32_t id) : host_(host), id_(id), parser_(host->options().limits, this) {}

AppConn::~AppConn() = default;

int AppConn::Adopt(int fd, std::vector<uint8_t>&& initial) {
  uv_tcp_init(host_->loop(), &tcp_);
  tcp_.data = this;
  uv_timer_init(host_->loop(), &timer_);
  timer_.data = this;
  handles_ = 2;
  int own = dup(fd);
  int rv = own < 0 ? uv_translate_sys_error(errno) : uv_tcp_open(&tcp_, own);
  if (rv != 0) {
    if (own >= 0) close(own);
    CloseHandles();
    return rv;
  }
  uv_tcp_nodelay(&tcp_, 1);
  in_ = std::move(initial);
  idleSinceMs_ = Engine::NowMs();
  if (!in_.empty()) headerStartMs_ = idleSinceMs_;
  Process();
  return 0;
}

void AppConn::ReadOn() {
  if (reading_ || closing_ || eof_ || handlesClosed_) return;
  int rv = uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), OnAlloc, OnRead);
  if (rv == 0) reading_ = true;
}

void AppConn::ReadOff() {
  StopReading(&tcp_, reading_);
}

void AppConn::OnAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* self = static_cast<AppConn*>(h->data);
  // One buffer per host: a connection keeps only the bytes it was sent (slowloris bound).
  buf->base = reinterpret_cast<char*>(self->host_->readBuffer());
  buf->len = self->host_->readBufferSize();
}


void AppConn::OnRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<AppConn*>(s->data);
  if (nread == 0) return;
  if (nread == UV_EOF) {
    self->ReadOff();
    self->eof_ = true;
  } else if (nread < 0) {
    self->ReadOff();
    self->Fail("E_UPSTREAM_RESET", std::string("the client went away (") + uv_err_name(static_cast<int>(nread)) + ")", 0, true,
               NGHTTP2_CANCEL);
    self->CloseNow();
    return;
  } else {
    if (self->state_ == State::kHead && self->headerStartMs_ == 0) self->headerStartMs_ = Engine::NowMs();
    self->lastActivityMs_ = Engine::NowMs();
    self->in_.insert(self->in_.end(), buf->base, buf->base + nread);
  }
  self->Process();
}

// Runs the parser over what was read, as far as the connection's state allows.
void AppConn::Process() {
  if (closing_ || handlesClosed_) return;
  for (;;) {
    bool parsing = state_ == State::kHead || (state_ == State::kForwarding && !requestDone_ && !bodyPaused_);
    if (!parsing) {
      // Reading stays on while a request is decided, its body waits for the peer stream's
      // window or its answer is awaited: a stopped and restarted libuv read costs two epoll_ctl
      // calls, once per request. What arrives meanwhile (a pipelined request, the client's FIN
      // or reset) waits in in_, at most kUnparsedBound bytes beyond one read.
      if (in_.size() - parsed_ >= kUnparsedBound) ReadOff();
      break;
    }
    Http1RequestParser::Step step{Http1RequestParser::Status::kNeedMore, 0};
    // In a body, a call with no bytes still runs llhttp to the end of a message that has none left.
    static const uint8_t kNothing = 0;
    if (parsed_ < in_.size()) step = parser_.Execute(in_.data() + parsed_, in_.size() - parsed_);
    else if (state_ == State::kForwarding) step = parser_.Execute(&kNothing, 0);
    parsed_ += step.consumed;
    if (step.status == Http1RequestParser::Status::kNeedMore && parsed_ >= in_.size() && eof_) {
      if (state_ == State::kHead && parser_.head().method.empty() && headerStartMs_ == 0) {
        CloseAfterWrites();  // closed between requests: nothing lost
        return;
      }
      step = parser_.Finish();
    }
    if (state_ == State::kForwarding && parsed_ > 0) {
      in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(parsed_));
      parsed_ = 0;
    }
    switch (step.status) {
      case Http1RequestParser::Status::kNeedMore:
        if (eof_) {
          if (state_ == State::kForwarding) {
            Fail("E_UPSTREAM_RESET", "the client went away before the request body ended", 0, true, NGHTTP2_CANCEL);
          }
          CloseAfterWrites();
          return;
        }
        ReadOn();
        ArmTimer();
        return;
      case Http1RequestParser::Status::kHead: {
        state_ = State::kDeciding;
        resent_ = false;
        uv_timer_stop(&timer_);
        const Http1Head& h = parser_.head();
        Event ev{static_cast<EventKind>(kAppHead), id_, 0, 0, 0, {}, {}};
        ev.strings.reserve(3 + h.headers.size());
        ev.strings.push_back(h.method);
        ev.strings.push_back(h.target);
        ev.strings.push_back(std::to_string(h.versionMajor) + "." + std::to_string(h.versionMinor));
        ev.strings.insert(ev.strings.end(), h.headers.begin(), h.headers.end());
        ev.flag = (h.keepAlive ? kHeadKeepAlive : 0) | (h.upgrade ? kHeadUpgrade : 0) |
                  (h.body != Http1BodyKind::kNone ? kHeadHasBody : 0);
        startNs_ = uv_hrtime();
        host_->Push(std::move(ev));
        return;
      }
      case Http1RequestParser::Status::kMessageEnd: {
        // The request is complete: its end goes to the peer; a pipelined next one waits.
        requestDone_ = true;
        if (!exchange_) {
          EndExchange();  // an answered request's end: on to the next one
          return;
        }
        if (session_ != nullptr) {
          Stream* s = session_->FindStream(sid_);
          if (s != nullptr && s->relay == this && s->hasProvider) {
            s->outEnd = true;
            session_->StreamIoChanged(s);
          }
        }
        MaybeFinish();
        return;
      }
      case Http1RequestParser::Status::kUpgrade:
      case Http1RequestParser::Status::kError: {
        ReadOff();
        const Http1Error& e = parser_.error();
        std::string code = step.status == Http1RequestParser::Status::kUpgrade ? "E_BAD_REQUEST" : e.code;
        std::string message = step.status == Http1RequestParser::Status::kUpgrade
                                  ? std::string("an upgrade the engine does not serve")
                                  : "malformed HTTP/1 request (" + e.name + ": " + e.reason + " at byte " + std::to_string(e.offset) + ")";
        if (code == "E_HEADERS_TOO_LARGE") message = "request head larger than the limit (" + e.reason + ")";
        int status = step.status == Http1RequestParser::Status::kUpgrade ? 400 : e.status;
        if (state_ == State::kForwarding) {
          Fail(code, message, status, true, NGHTTP2_CANCEL);
        } else {
          WriteErrorAnswer(status, code, message);
          RecordEarly(code, message);
        }
        CloseAfterWrites();
        return;
      }
    }
  }
}

void AppConn::ArmTimer() {
  if (handlesClosed_) return;
  uint64_t due = 0;
  if (state_ == State::kHead) {
    due = headerStartMs_ != 0 ? headerStartMs_ + host_->options().headerReadMs : idleSinceMs_ + host_->options().keepAliveMs;
  } else if (state_ == State::kForwarding) {
    if (!headSent_ && requestMs_ > 0) due = startNs_ / 1000000 + requestMs_;
    else if (headSent_ && idleMs_ > 0) due = lastActivityMs_ + idleMs_;
  }
  ArmDeadline(&timer_, OnTimer, due);
}

void AppConn::OnTimer(uv_timer_t* t) {
  auto* self = static_cast<AppConn*>(t->data);
  uint64_t now = Engine::NowMs();
  const AppOptions& o = self->host_->options();
  if (self->closing_) return;
  if (self->state_ == State::kHead) {
    if (self->headerStartMs_ != 0) {
      if (now < self->headerStartMs_ + o.headerReadMs) return self->ArmTimer();
      self->ReadOff();
      std::string message = "the request head did not complete within " + std::to_string(o.headerReadMs) + " ms";
      self->WriteErrorAnswer(408, "E_HEADER_TIMEOUT", message);
      self->RecordEarly("E_HEADER_TIMEOUT", message);
      self->CloseAfterWrites();
    } else {
      if (now < self->idleSinceMs_ + o.keepAliveMs) return self->ArmTimer();
      self->CloseAfterWrites();
    }
    return;
  }
  if (self->state_ != State::kForwarding) return;
  if (!self->headSent_) {
    if (self->requestMs_ == 0 || now < self->startNs_ / 1000000 + self->requestMs_) return self->ArmTimer();
    self->Fail("E_REQUEST_TIMEOUT", "no response head within " + std::to_string(self->requestMs_) + " ms", 504, false, NGHTTP2_CANCEL);
    self->CloseAfterWrites();
  } else {
    if (self->idleMs_ == 0 || now < self->lastActivityMs_ + self->idleMs_) return self->ArmTimer();
    self->Fail("E_IDLE_TIMEOUT", "no response bytes for " + std::to_string(self->idleMs_) + " ms", 0, false, NGHTTP2_CANCEL);
    self->CloseNow();
  }
}

int AppConn::Forward(Session* session, const std::vector<std::string>& fields, uint64_t requestMs, uint64_t idleMs,
                     uint32_t token) {
  const Http1Head& h = parser_.head();
  bool hasBody = h.body != Http1BodyKind::kNone;
  int32_t sid = session->RequestRelay(fields, !hasBody, this);
  if (sid < 0) return 2;
  state_ = State::kForwarding;
  session_ = session;
  sid_ = sid;
  token_ = token;
  exchange_ = true;
  // Set at the parser's message end (at once for a body-less request); a request sent once
  // more after a refusal (resent_) was read to its end already.
  requestDone_ = resent_;
  responseDone_ = false;
  headSent_ = false;
  chunked_ = false;
  noBody_ = false;
  bodyPaused_ = false;
  headRequest_ = h.method == "HEAD";
  keepAlive_ = h.keepAlive && !draining_ && !LastAllowed();
  status_ = 0;
  requestMs_ = requestMs;
  idleMs_ = idleMs;
  lastActivityMs_ = Engine::NowMs();
  requestBytes_ = 0;
  responseBytes_ = 0;
  peerError_.clear();
  trailers_.clear();
  // The head's bytes are the parser's now; what follows is body (or a pipelined request).
  in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(parsed_));
  parsed_ = 0;
  // `expect: 100-continue` from an HTTP/1.1 client: now that the request goes on, the client may
  // send its body (RFC 9110 §10.1.1; node:http on the JS path sends the 100 too, also when the
  // body came with the head). Not to HTTP/1.0 (§15.2), not on a resend (its body was read already).
  if (h.expectContinue && hasBody && !resent_ && h.versionMajor == 1 && h.versionMinor >= 1) {
    static const char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
    Write(std::vector<uint8_t>(kContinue, kContinue + sizeof(kContinue) - 1), 0);
  }
  Process();  // the body read so far (or, with none, the message's end)
  ArmTimer();
  return 0;
}

void AppConn::OnBody(const uint8_t* data, size_t len) {
  requestBytes_ += len;
  if (session_ == nullptr) return;  // the stream is gone: the rest of the body is dropped
  Stream* s = session_->FindStream(sid_);
  if (s == nullptr || s->relay != this) return;
  s->out.emplace_back(data, data + len);
  s->outBytes += len;
  session_->StreamIoChanged(s);
  if (s->outBytes > kBodyHighWater) bodyPaused_ = true;
}

void AppConn::OnRelayBodyTaken() {
  if (!bodyPaused_ || session_ == nullptr) return;
  Stream* s = session_->FindStream(sid_);
  if (s != nullptr && s->outBytes > kBodyLowWater) return;
  bodyPaused_ = false;
  // Not from inside nghttp2's callback: the parser may queue more on this stream.
  host_->Push(Event{static_cast<EventKind>(0), id_, 0, 0, 0, {}, {}});
}

void AppConn::Answer(std::vector<uint8_t>&& bytes, bool close) {
  state_ = State::kHead;
  Write(std::move(bytes), 0);
  bool hasBody = parser_.head().body != Http1BodyKind::kNone;
  if (close || hasBody || !parser_.head().keepAlive || draining_ || LastAllowed()) {
    CloseAfterWrites();
    return;
  }
  // A body-less request: run llhttp to its message end; the next request may be waiting.
  in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(parsed_));
  parsed_ = 0;
  state_ = State::kForwarding;
  requestDone_ = false;
  bodyPaused_ = false;
  exchange_ = false;
  session_ = nullptr;
  keepAlive_ = true;
  Process();
}

int AppConn::HandBack(std::vector<uint8_t>* bytes) {
  ReadOff();
  // Everything from the start of this request: the parser consumed the head from in_[0].
  *bytes = std::move(in_);
  in_.clear();
  parsed_ = 0;
  uv_os_fd_t fd = -1;
  int copy = uv_fileno(reinterpret_cast<uv_handle_t*>(&tcp_), &fd) == 0 ? dup(fd) : -1;
  state_ = State::kClosed;
  closing_ = true;
  CloseHandles();
  return copy;
}

// The request being answered is the last one limits.maxRequestsPerConnection lets this connection have.
bool AppConn::LastAllowed() const {
  uint32_t max = host_->options().maxRequests;
  return max > 0 && parser_.requests() >= max;
}

void AppConn::Drain() {
  draining_ = true;
  keepAlive_ = false;
  if (state_ == State::kHead && headerStartMs_ == 0) CloseAfterWrites();
}

// Bytes for the app are corked until the host's check phase, right after this loop turn's I/O
// callbacks: a response's head, body and end that arrived in one read of the peer session go in
// one write (AppHost::OnCheck → FlushWrites) instead of two or three.
void AppConn::Write(std::vector<uint8_t>&& bytes, size_t credit) {
  if (handlesClosed_ || bytes.empty()) return;
  writesPending_ += bytes.size();
  if (corked_.empty()) corked_ = std::move(bytes);
  else corked_.insert(corked_.end(), bytes.begin(), bytes.end());
  corkedCredit_ += credit;
  if (!flushScheduled_) {
    flushScheduled_ = true;
    host_->ScheduleFlush(this);
  }
}

void AppConn::FlushWrites() {
  flushScheduled_ = false;
  if (handlesClosed_ || corked_.empty()) return;
  std::vector<uint8_t> bytes;
  bytes.swap(corked_);
  size_t credit = corkedCredit_;
  corkedCredit_ = 0;
  size_t queued = 0;
  int rv = WriteOrQueue(reinterpret_cast<uv_stream_t*>(&tcp_), bytes.data(), bytes.size(), this, credit, OnWrite, &queued);
  writesPending_ -= bytes.size() - (rv == 0 ? queued : 0);  // what the socket took, or all on a failure
  if (rv != 0) {
    Fail("E_UPSTREAM_RESET", std::string("cannot write to the client: ") + uv_err_name(rv), 0, true, NGHTTP2_CANCEL);
    CloseNow();
    return;
  }
  if (queued > 0) return;  // OnWrite credits the stream once the rest is written
  if (credit > 0 && session_ != nullptr) session_->ConsumeStream(sid_, credit);
  if (closing_ && writesPending_ == 0) CloseHandles();
}

void AppConn::OnWrite(uv_write_t* req, int status) {
  auto* w = static_cast<QueuedWrite*>(req->data);
  auto* self = static_cast<AppConn*>(w->owner);
  self->writesPending_ -= w->bytes.size();
  size_t credit = w->credit;
  delete w;
  if (status != 0) {
    if (!self->closing_) {
      self->Fail("E_UPSTREAM_RESET", std::string("the client went away (") + uv_err_name(status) + ")", 0, true, NGHTTP2_CANCEL);
    }
    self->CloseNow();
    return;
  }
  if (credit > 0 && self->session_ != nullptr) self->session_->ConsumeStream(self->sid_, credit);
  if (self->closing_ && self->writesPending_ == 0) self->CloseHandles();
}

void AppConn::WriteHead(int status, const std::vector<std::string>& fields) {
  std::vector<uint8_t> out;
  out.reserve(256);
  Append(out, "HTTP/1.1 ");
  Append(out, std::to_string(status));
  out.push_back(' ');
  Append(out, ReasonPhrase(status));
  Append(out, "\r\n");
  std::vector<std::string> named = ConnectionTokens(fields);
  bool hasLength = false;
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    const std::string& name = fields[i];
    if (name.empty() || name[0] == ':' || HopByHop(name) || Listed(named, name)) continue;
    if (Is(name, "content-length")) hasLength = true;
    if (Is(name, "meshgate-error")) peerError_ = fields[i + 1];
    AppendField(out, name, fields[i + 1]);
  }
  noBody_ = headRequest_ || status == 204 || status == 304 || (status >= 100 && status < 200);
  const Http1Head& h = parser_.head();
  bool http11 = h.versionMajor == 1 && h.versionMinor >= 1;
  if (!noBody_ && !hasLength) {
    if (http11) {
      chunked_ = true;
      Append(out, "transfer-encoding: chunked\r\n");
    } else {
      keepAlive_ = false;  // HTTP/1.0: the body ends with the connection
    }
  }
  // As node:http says it, so that both data paths answer alike.
  if (!keepAlive_) {
    Append(out, "connection: close\r\n");
  } else {
    Append(out, "connection: keep-alive\r\nkeep-alive: timeout=");
    Append(out, std::to_string(host_->options().keepAliveMs / 1000));
    Append(out, "\r\n");
  }
  Append(out, "\r\n");
  Write(std::move(out), 0);
}

void AppConn::WriteErrorAnswer(int status, const std::string& code, const std::string& message) {
  // The bytes src/http/rescue.ts's rawErrorResponse() writes.
  std::string body = code + ": " + message + "\n";
  std::vector<uint8_t> out;
  Append(out, "HTTP/1.1 " + std::to_string(status) + " " + ReasonPhrase(status) + "\r\nmeshgate-error: " + code +
                  "\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: " + std::to_string(body.size()) +
                  "\r\nconnection: close\r\n\r\n" + body);
  status_ = status;
  Write(std::move(out), 0);
}

void AppConn::OnRelayHeaders(std::vector<std::string>&& headers, bool informational, bool trailers) {
  if (informational) return;  // 1xx are not relayed: this hop sent the app's 100 itself (Forward)
  lastActivityMs_ = Engine::NowMs();
  if (trailers) {
    trailers_ = std::move(headers);
    return;
  }
  int status = 502;
  for (size_t i = 0; i + 1 < headers.size(); i += 2) {
    if (Is(headers[i], ":status")) status = atoi(headers[i + 1].c_str());
  }
  status_ = status;
  headNs_ = uv_hrtime();
  headSent_ = true;
  WriteHead(status, headers);
  ArmTimer();
}

void AppConn::OnRelayData(const uint8_t* data, size_t len) {
  lastActivityMs_ = Engine::NowMs();
  responseBytes_ += len;
  if (noBody_ || !headSent_ || closing_) {
    if (session_ != nullptr) session_->ConsumeStream(sid_, len);
    return;
  }
  std::vector<uint8_t> out;
  if (chunked_) {
    char size[24];
    int n = snprintf(size, sizeof(size), "%zx\r\n", len);
    out.reserve(len + static_cast<size_t>(n) + 2);
    out.insert(out.end(), size, size + n);
    out.insert(out.end(), data, data + len);
    out.push_back('\r');
    out.push_back('\n');
  } else {
    out.assign(data, data + len);
  }
  Write(std::move(out), len);
}

void AppConn::OnRelayEnd() {
  if (!headSent_) return;  // a stream that ends without a head: the close says what happened
  if (chunked_) {
    std::vector<uint8_t> out;
    Append(out, "0\r\n");
    std::vector<std::string> named = ConnectionTokens(trailers_);
    for (size_t i = 0; i + 1 < trailers_.size(); i += 2) {
      const std::string& name = trailers_[i];
      if (name.empty() || name[0] == ':' || HopByHop(name) || Listed(named, name) || Is(name, "content-length")) continue;
      AppendField(out, name, trailers_[i + 1]);
    }
    Append(out, "\r\n");
    Write(std::move(out), 0);
  }
  responseDone_ = true;
  MaybeFinish();
}

void AppConn::OnRelayClosed(uint32_t h2code, bool sessionGone) {
  session_ = nullptr;
  if (!exchange_ || responseDone_) return;
  if (h2code == NGHTTP2_REFUSED_STREAM && !headSent_ && !resent_ && parser_.head().body == Http1BodyKind::kNone && !draining_) {
    // Refused unprocessed (RFC 9113 §8.7): JS sends it once more, on a session it picks, as the
    // JS path does. Only a body-less request: a body's bytes went to the refused stream.
    resent_ = true;
    exchange_ = false;
    state_ = State::kDeciding;
    uv_timer_stop(&timer_);
    host_->Push(Event{static_cast<EventKind>(kAppRefused), id_, static_cast<int32_t>(token_), 0, 0, {}, {}});
    return;
  }
  if (h2code == NGHTTP2_REFUSED_STREAM && !headSent_) {
    Fail("E_PEER_REFUSED", "the peer refused the stream unprocessed (REFUSED_STREAM)", 502, false, -1);
    CloseAfterWrites();
    return;
  }
  Fail("E_PEER_RESET", "stream to the peer failed: " + PeerStreamEnded(h2code, sessionGone), 502, false, -1);
  if (headSent_) CloseNow();
  else CloseAfterWrites();
}

// The exchange failed: answer with the error while no head went out (status > 0), record it, and
// forget the stream (reset with `resetCode` when still open, -1: leave it).
void AppConn::Fail(const std::string& code, const std::string& message, int status, bool clientGone, int64_t resetCode) {
  if (!exchange_) return;
  bool beforeHead = !headSent_;
  if (beforeHead && status > 0 && !clientGone) WriteErrorAnswer(status, code, message);
  else if (beforeHead && clientGone) status_ = 0;
  Detach(resetCode);
  keepAlive_ = false;
  Record(code, message, (clientGone ? kDoneClientGone : 0) | (beforeHead ? kDoneBeforeHead : 0));
  exchange_ = false;
}

void AppConn::Detach(int64_t resetCode) {
  if (session_ == nullptr) return;
  Session* s = session_;
  session_ = nullptr;
  s->DetachRelay(sid_, this, resetCode);
}

void AppConn::Record(const std::string& failure, const std::string& reason, int32_t extraFlags) {
  uint64_t now = uv_hrtime();
  double totalMs = static_cast<double>(now - startNs_) / 1e6;
  double headMs = headNs_ > startNs_ ? static_cast<double>(headNs_ - startNs_) / 1e6 : totalMs;
  host_->Push(DoneEvent(id_, token_, status_, (headSent_ ? kDoneHeadSent : 0) | extraFlags, failure, peerError_, reason,
                        requestBytes_, responseBytes_, headMs, totalMs));
}

// A request the engine answered itself before any head reached JavaScript (a bad or oversized
// head, the header timeout): a record with token 0, so that it is counted like the JS path's.
void AppConn::RecordEarly(const std::string& code, const std::string& message) {
  host_->Push(DoneEvent(id_, 0, status_, 0, code, "", message, 0, 0, 0, 0));
}

void AppConn::MaybeFinish() {
  if (!exchange_ || !responseDone_) return;
  if (!requestDone_) {
    // The peer answered before the request body ended: the rest cannot be read as a request.
    keepAlive_ = false;
    Detach(NGHTTP2_NO_ERROR);
  } else {
    Detach(-1);
  }
  Record("", "", 0);
  exchange_ = false;
  EndExchange();
}

// Ready for the next request on a keep-alive connection, or closing.
void AppConn::EndExchange() {
  headNs_ = 0;
  if (!keepAlive_ || draining_ || !requestDone_) {
    CloseAfterWrites();
    return;
  }
  state_ = State::kHead;
  idleSinceMs_ = Engine::NowMs();
  headerStartMs_ = parsed_ < in_.size() ? idleSinceMs_ : 0;
  Process();
}

void AppConn::CloseAfterWrites() {
  if (closing_) return;
  ReadOff();
  closing_ = true;
  state_ = State::kClosed;
  Detach(NGHTTP2_CANCEL);
  if (writesPending_ == 0) CloseHandles();
}

void AppConn::CloseNow() {
  if (handlesClosed_) return;
  ReadOff();
  closing_ = true;
  state_ = State::kClosed;
  Detach(NGHTTP2_CANCEL);
  CloseHandles();
}

void AppConn::CloseHandles() {
  if (handlesClosed_) return;
  handlesClosed_ = true;
  closing_ = true;
  if (exchange_) {
    Record("E_UPSTREAM_RESET", "the connection closed", kDoneClientGone | (headSent_ ? 0 : kDoneBeforeHead));
    exchange_ = false;
  }
  auto done = [](uv_handle_t* h) {
    auto* self = static_cast<AppConn*>(h->data);
    if (--self->handles_ == 0) self->host_->ConnClosed(self);
  };
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), done);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), done);
}

// --- AppHost ------------------------------------------------------------------------------------

AppHost::AppHost(const Napi::CallbackInfo& info, void* wrap) : env_(info.Env()), wrap_(wrap) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction()) {
    initError_ = "new AppHost(options, emit)";
    return;
  }
  Napi::Object o = info[0].As<Napi::Object>();
  options_.limits.maxHeaderBytes = static_cast<size_t>(Number(o, "maxHeaderBytes", static_cast<double>(options_.limits.maxHeaderBytes)));
  options_.limits.maxHeaderCount = static_cast<size_t>(Number(o, "maxHeaderCount", static_cast<double>(options_.limits.maxHeaderCount)));
  options_.headerReadMs = static_cast<uint64_t>(Number(o, "headerReadMs", static_cast<double>(options_.headerReadMs)));
  options_.keepAliveMs = static_cast<uint64_t>(Number(o, "keepAliveMs", static_cast<double>(options_.keepAliveMs)));
  options_.maxRequests = static_cast<uint32_t>(Number(o, "maxRequestsPerConnection", 0));
  emit_ = Napi::Persistent(info[1].As<Napi::Function>());
  async_ = std::make_unique<Napi::AsyncContext>(env, "meshgate:app-http1");
  napi_get_uv_event_loop(env, &loop_);
  uv_idle_init(loop_, &idle_);
  idle_.data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(&idle_));
  uv_check_init(loop_, &check_);
  check_.data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(&check_));
  openHandles_ = 2;
  readBuffer_.resize(kReadBufferBytes);
  self_ = Napi::Persistent(info.This().As<Napi::Object>());
}

AppHost::~AppHost() {
  if (teardown_) {
    emit_.SuppressDestruct();
    self_.SuppressDestruct();
    async_.release();
  }
}

void AppHost::WrapperGone() {
  wrap_ = nullptr;
  teardown_ = true;
  if (!closed_) Shutdown();
  emit_.Reset();
  self_.Reset();
  async_.reset();
}

void DetachAppHostWrap(void* wrap);  // addon.cc

void AppHost::HandleClosed() {
  if (--openHandles_ > 0) return;
  if (wrap_ != nullptr) DetachAppHostWrap(wrap_);
  if (!teardown_) self_.Reset();
  delete this;
}

void AppHost::Shutdown() {
  if (closed_) return;
  std::vector<AppConn*> all;
  for (auto& entry : conns_) all.push_back(entry.second);
  for (AppConn* c : all) c->CloseNow();
  std::vector<AppH2cConn*> h2c;
  for (auto& entry : h2c_) h2c.push_back(entry.second);
  for (AppH2cConn* c : h2c) c->CloseNow();
  // The records of the exchanges just cut still reach JS (its in-flight count and metrics).
  if (!teardown_ && !pumping_) Pump();
  closed_ = true;
  events_.clear();
  toFlush_.clear();
  uv_close(reinterpret_cast<uv_handle_t*>(&idle_), [](uv_handle_t* h) { static_cast<AppHost*>(h->data)->HandleClosed(); });
  uv_close(reinterpret_cast<uv_handle_t*>(&check_), [](uv_handle_t* h) { static_cast<AppHost*>(h->data)->HandleClosed(); });
}

void AppHost::Push(Event&& ev) {
  if (closed_) return;
  events_.push_back(std::move(ev));
  if (!pumping_) {
    // Delivered at this turn's check phase (a head read now is decided in this turn) or at the
    // next idle phase, whichever comes first.
    uv_idle_start(&idle_, OnIdle);
    uv_check_start(&check_, OnCheck);
  }
}

void AppHost::OnIdle(uv_idle_t* h) { static_cast<AppHost*>(h->data)->Pump(); }

void AppHost::Pump() {
  if (pumping_) return;
  pumping_ = true;
  FlushH2c();
  for (int round = 0; round < 16 && !events_.empty(); ++round) {
    std::vector<Event> events;
    events.swap(spareEvents_);  // empty, with the capacity of an earlier round
    events.swap(events_);
    if (teardown_ || self_.IsEmpty()) continue;
    Napi::Env env = env_;
    Napi::HandleScope scope(env);
    Napi::Object self = self_.Value();
    // One call into JavaScript per round, not per event: emit(nums, text). Per event, nums holds
    // kind, conn, stream, code, flag, the number of strings, their lengths, the number of numbers
    // and the numbers; text holds the strings back to back (latin1).
    std::vector<double> nums;
    std::string text;
    nums.reserve(events.size() * 16);
    text.reserve(events.size() * 128);
    for (Event& ev : events) {
      if (ev.kind == 0) {
        // A request body's send queue drained: read on (outside nghttp2's callbacks).
        auto it = conns_.find(ev.conn);
        if (it != conns_.end()) it->second->Process();
        continue;
      }
      nums.insert(nums.end(), {static_cast<double>(ev.kind), static_cast<double>(ev.conn), static_cast<double>(ev.stream),
                               static_cast<double>(ev.code), static_cast<double>(ev.flag), static_cast<double>(ev.strings.size())});
      for (const std::string& str : ev.strings) {
        nums.push_back(static_cast<double>(str.size()));
        text += str;
      }
      nums.push_back(ev.numCount);
      nums.insert(nums.end(), ev.nums, ev.nums + ev.numCount);
    }
    if (nums.empty()) continue;
    Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, nums.size() * sizeof(double));
    std::memcpy(buffer.Data(), nums.data(), nums.size() * sizeof(double));
    emit_.MakeCallback(self, {Napi::Float64Array::New(env, nums.size(), buffer, 0), Latin1(env, text)}, *async_);
    if (env.IsExceptionPending()) {
      Napi::Error err = env.GetAndClearPendingException();
      napi_fatal_exception(env, err.Value());
    }
    FlushH2c();  // what JavaScript's answers submitted
    events.clear();
    if (spareEvents_.empty()) spareEvents_.swap(events);
  }
  pumping_ = false;
  if (!closed_) {
    if (events_.empty()) uv_idle_stop(&idle_);
    else uv_idle_start(&idle_, OnIdle);
  }
}

void AppHost::ConnClosed(AppConn* conn) {
  toFlush_.erase(std::remove(toFlush_.begin(), toFlush_.end(), conn), toFlush_.end());
  auto it = conns_.find(conn->id());
  bool known = it != conns_.end() && it->second == conn;
  if (known) {
    conns_.erase(it);
    Push(Event{static_cast<EventKind>(kAppClosed), conn->id(), 0, 0, 0, {}, {}});
  }
  delete conn;
  HandleClosed();
}

void AppHost::ScheduleFlush(AppConn* conn) {
  if (closed_) return;
  uv_check_start(&check_, OnCheck);  // a no-op when it runs already
  toFlush_.push_back(conn);
}

void AppHost::OnCheck(uv_check_t* h) {
  auto* self = static_cast<AppHost*>(h->data);
  std::vector<AppConn*> conns;
  conns.swap(self->toFlush_);
  for (AppConn* c : conns) c->FlushWrites();  // a flush may cork nothing new: writes come from callbacks
  self->FlushH2c();
  if (!self->events_.empty() && !self->pumping_) self->Pump();
  if (self->closed_) return;
  conns.clear();
  conns.swap(self->toFlush_);
  for (AppConn* c : conns) c->FlushWrites();  // what JavaScript's answers wrote
  if (self->toFlush_.empty() && self->dirtyH2c_.empty() && self->events_.empty()) uv_check_stop(&self->check_);
}

// Flushed at this loop turn's check phase (after its I/O callbacks), or by a pump running first.
void AppHost::MarkH2cDirty(AppH2cConn* conn) {
  if (closed_) return;
  dirtyH2c_.push_back(conn);
  uv_check_start(&check_, OnCheck);
}

void AppHost::FlushH2c() {
  for (int round = 0; round < 4 && !dirtyH2c_.empty(); ++round) {
    std::vector<AppH2cConn*> dirty;
    dirty.swap(dirtyH2c_);
    for (AppH2cConn* c : dirty) c->Flush();
  }
}

void AppHost::H2cClosed(AppH2cConn* conn) {
  auto it = h2c_.find(conn->id());
  if (it != h2c_.end() && it->second == conn) {
    h2c_.erase(it);
    Push(Event{static_cast<EventKind>(kAppClosed), conn->id(), 0, 0, 0, {}, {}});
  }
  dirtyH2c_.erase(std::remove(dirtyH2c_.begin(), dirtyH2c_.end(), conn), dirtyH2c_.end());
  delete conn;
  HandleClosed();
}

void AppHost::Forget(AppConn* conn) {
  auto it = conns_.find(conn->id());
  if (it != conns_.end() && it->second == conn) conns_.erase(it);
}

AppConn* AppHost::Find(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsNumber()) return nullptr;
  auto it = conns_.find(info[0].As<Napi::Number>().Uint32Value());
  return it == conns_.end() || it->second->closing() ? nullptr : it->second;
}

// adopt(fd, initial: Buffer | null) → connection id
Napi::Value AppHost::Adopt(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_ || info.Length() < 1 || !info[0].IsNumber()) {
    Napi::Error::New(env, closed_ ? "the app host is closed" : "adopt(fd, initial)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::vector<uint8_t> initial = BytesArg(info, 1);
  auto* conn = new AppConn(this, nextId_++);
  conns_[conn->id()] = conn;
  ++openHandles_;
  int rv = conn->Adopt(info[0].As<Napi::Number>().Int32Value(), std::move(initial));
  if (rv != 0) {
    Forget(conn);
    Napi::Error::New(env, std::string("cannot adopt the app socket: ") + uv_strerror(rv)).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, conn->id());
}

// forward(conn, engine, session, fields, count, requestMs, idleMs, token) → 0 sent, 1 the
// connection is gone, 2 the session cannot take a stream now, 3 the fields (NUL-joined) are not
// `count` strings
Napi::Value AppHost::Forward(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AppConn* conn = Find(info);
  if (conn == nullptr || !conn->deciding()) return Napi::Number::New(env, 1);
  Session* session = SessionArg(info, 1);
  if (session == nullptr) return Napi::Number::New(env, 2);
  std::vector<std::string> fields;
  if (!JoinedFields(info[3], info[4], &fields)) return Napi::Number::New(env, 3);
  int rv = conn->Forward(session, fields, static_cast<uint64_t>(NumberArg(info, 5)), static_cast<uint64_t>(NumberArg(info, 6)),
                         static_cast<uint32_t>(NumberArg(info, 7)));
  return Napi::Number::New(env, rv);
}

// answer(conn, bytes, close): JavaScript's own answer to the head (an error, usually)
Napi::Value AppHost::Answer(const Napi::CallbackInfo& info) {
  AppConn* conn = Find(info);
  if (conn == nullptr || !conn->deciding() || info.Length() < 2 || !info[1].IsTypedArray()) return info.Env().Undefined();
  conn->Answer(BytesArg(info, 1), info.Length() > 2 && info[2].ToBoolean().Value());
  return info.Env().Undefined();
}

// handBack(conn) → { fd, bytes } | null: a descriptor of the connection for a new JS socket, and
// the request's bytes and what followed, to read first
Napi::Value AppHost::HandBack(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AppConn* conn = Find(info);
  if (conn == nullptr || !conn->deciding()) return env.Null();
  Forget(conn);
  std::vector<uint8_t> bytes;
  int fd = conn->HandBack(&bytes);
  if (fd < 0) return env.Null();
  Napi::Object out = Napi::Object::New(env);
  out.Set("fd", fd);
  out.Set("bytes", Napi::Buffer<uint8_t>::Copy(env, bytes.data(), bytes.size()));
  return out;
}

// drain(): each connection ends after its current exchange
Napi::Value AppHost::Drain(const Napi::CallbackInfo& info) {
  std::vector<AppConn*> all;
  for (auto& entry : conns_) all.push_back(entry.second);
  for (AppConn* c : all) c->Drain();
  std::vector<AppH2cConn*> h2c;
  for (auto& entry : h2c_) h2c.push_back(entry.second);
  for (AppH2cConn* c : h2c) c->Drain();
  FlushH2c();
  return info.Env().Undefined();
}

Napi::Value AppHost::Close(const Napi::CallbackInfo& info) {
  Shutdown();
  return info.Env().Undefined();
}

Napi::Value AppHost::Count(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(conns_.size() + h2c_.size()));
}

AppH2cConn* AppHost::FindH2c(const Napi::CallbackInfo& info) {
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) return nullptr;
  auto it = h2c_.find(info[0].As<Napi::Number>().Uint32Value());
  return it == h2c_.end() || it->second->closing() ? nullptr : it->second;
}

// adoptH2c(fd, initial: Buffer | null) → connection id (the same id space as adopt()'s)
Napi::Value AppHost::AdoptH2c(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_ || info.Length() < 1 || !info[0].IsNumber()) {
    Napi::Error::New(env, closed_ ? "the app host is closed" : "adoptH2c(fd, initial)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::vector<uint8_t> initial = BytesArg(info, 1);
  auto* conn = new AppH2cConn(this, nextId_++);
  h2c_[conn->id()] = conn;
  ++openHandles_;
  uint32_t id = conn->id();
  int rv = conn->Adopt(info[0].As<Napi::Number>().Int32Value(), std::move(initial));
  if (rv != 0) {
    h2c_.erase(id);  // its handles close on their own; no event for a connection JS never had
    Napi::Error::New(env, std::string("cannot adopt the app socket: ") + uv_strerror(rv)).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Number::New(env, id);
}

// forwardStream(conn, stream, engine, session, fields, count, requestMs, idleMs, token) → as
// forward(), 1 when the stream is gone
Napi::Value AppHost::ForwardStream(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AppH2cConn* conn = FindH2c(info);
  if (conn == nullptr) return Napi::Number::New(env, 1);
  Session* session = SessionArg(info, 2);
  if (session == nullptr) return Napi::Number::New(env, 2);
  std::vector<std::string> fields;
  if (!JoinedFields(info[4], info[5], &fields)) return Napi::Number::New(env, 3);
  int rv = conn->Forward(info[1].As<Napi::Number>().Int32Value(), session, fields, static_cast<uint64_t>(NumberArg(info, 6)),
                         static_cast<uint64_t>(NumberArg(info, 7)), static_cast<uint32_t>(NumberArg(info, 8)));
  if (rv == 0) conn->Flush();
  return Napi::Number::New(env, rv);
}

// answerStream(conn, stream, status, code, message): JavaScript's own answer (an error) to the head
Napi::Value AppHost::AnswerStream(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  AppH2cConn* conn = FindH2c(info);
  if (conn == nullptr || info.Length() < 5 || !info[2].IsNumber()) return Napi::Number::New(env, 1);
  return Napi::Number::New(env, conn->Answer(info[1].As<Napi::Number>().Int32Value(), info[2].As<Napi::Number>().Int32Value(),
                                             Latin1Arg(info[3]), Latin1Arg(info[4])));
}

// refuseStream(conn, stream): RST_STREAM REFUSED_STREAM and GOAWAY (the client retries elsewhere)
Napi::Value AppHost::RefuseStream(const Napi::CallbackInfo& info) {
  AppH2cConn* conn = FindH2c(info);
  if (conn == nullptr) return Napi::Number::New(info.Env(), 1);
  return Napi::Number::New(info.Env(), conn->Refuse(info[1].As<Napi::Number>().Int32Value()));
}

}  // namespace engine
}  // namespace meshgate
