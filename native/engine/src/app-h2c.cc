// h2c app connections served by the engine (see app-h2c.h).
#include "app-h2c.h"

#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "app-http1.h"
#include "http1-fields.h"

namespace meshgate {
namespace engine {

namespace {

constexpr uint32_t kMaxConcurrentStreams = 256;
constexpr int32_t kStreamWindow = 256 * 1024;
constexpr int32_t kConnectionWindow = 16 * 1024 * 1024;
constexpr size_t kMaxHeaderPairs = 256;           // node:http2's maxHeaderListPairs on the JS path
constexpr size_t kMaxUnwritten = 1024 * 1024;     // bytes queued on the socket before nghttp2 waits
constexpr uint32_t kPrematureResetMinStreams = 500;
constexpr uint64_t kPrematureResetMs = 1000;
// DATA or HEADERS frames with no payload and no END_STREAM in a row before the session is closed
// (the peer session's rule, Settings::maxEmptyFrames; Envoy's
// max_consecutive_inbound_frames_with_empty_payload).
constexpr uint32_t kMaxEmptyFrames = 1;

}  // namespace

// --- AppH2cExchange ------------------------------------------------------------------------------

AppH2cExchange::AppH2cExchange(AppH2cConn* conn, int32_t sid) : conn_(conn), sid_(sid), openedAtMs_(Engine::NowMs()) {}

AppH2cExchange::~AppH2cExchange() { Detach(NGHTTP2_CANCEL); }

void AppH2cExchange::Detach(int64_t h2code) {
  if (session_ == nullptr) return;
  Session* s = session_;
  session_ = nullptr;
  s->DetachRelay(peerSid_, this, h2code);
  CreditQueued();
}

// Body bytes left on a peer stream that is gone are never taken: credited to the client now, so
// that the rest of its upload (read and dropped) is not held by a window.
void AppH2cExchange::CreditQueued() {
  if (queued_ == 0) return;
  nghttp2_session_consume_stream(conn_->h2(), sid_, queued_);
  queued_ = 0;
  conn_->MarkDirty();
}

uint64_t AppH2cExchange::DueMs() const {
  if (state_ != State::kForwarding || responseDone_) return 0;
  if (!headSent_) return requestMs_ > 0 ? startNs_ / 1000000 + requestMs_ : 0;
  return idleMs_ > 0 ? lastActivityMs_ + idleMs_ : 0;
}

// The request's body bytes go to the peer stream (or wait for JS to decide).
void AppH2cExchange::PushBody(const uint8_t* data, size_t len) {
  nghttp2_session* h2 = conn_->h2();
  if (state_ == State::kDeciding || state_ == State::kHead) {
    early_.insert(early_.end(), data, data + len);  // bounded by the stream's window
    return;
  }
  Stream* s = session_ == nullptr ? nullptr : session_->FindStream(peerSid_);
  if (s == nullptr || s->relay != this || !s->hasProvider) {
    nghttp2_session_consume_stream(h2, sid_, len);  // nowhere to go: dropped, the window kept open
    return;
  }
  s->out.emplace_back(data, data + len);
  s->outBytes += len;
  queued_ += len;
  session_->StreamIoChanged(s);
}

void AppH2cExchange::RequestEnded() {
  requestDone_ = true;
  if (state_ != State::kForwarding || session_ == nullptr) return;
  Stream* s = session_->FindStream(peerSid_);
  if (s == nullptr || s->relay != this || !s->hasProvider) return;
  s->trailers = StreamFields(requestTrailers_, true);
  s->outEnd = true;
  session_->StreamIoChanged(s);
}

void AppH2cExchange::OnRelayBodyTaken() {
  if (session_ == nullptr) return;
  Stream* s = session_->FindStream(peerSid_);
  size_t pending = s == nullptr ? 0 : s->outBytes;
  if (pending >= queued_) return;
  size_t taken = queued_ - pending;
  queued_ = pending;
  nghttp2_session_consume_stream(conn_->h2(), sid_, taken);
  conn_->MarkDirty();
}

void AppH2cExchange::OnRelayHeaders(std::vector<std::string>&& headers, bool informational, bool trailers) {
  if (informational) return;  // 1xx are not relayed (as on the HTTP/1 path)
  lastActivityMs_ = Engine::NowMs();
  if (trailers) {
    trailers_ = StreamFields(std::move(headers), true);
    return;
  }
  if (submitted_) return;
  int status = 502;
  for (size_t i = 0; i + 1 < headers.size(); i += 2) {
    if (Is(headers[i], ":status")) status = atoi(headers[i + 1].c_str());
    else if (Is(headers[i], "meshgate-error")) peerError_ = headers[i + 1];
  }
  // :status first (RFC 9113 §8.3): the peer's head has it first too, StreamFields keeps the order.
  std::vector<std::string> fields = StreamFields(std::move(headers), false);
  std::vector<nghttp2_nv> nva = MakeNv(fields);
  nghttp2_data_provider prd;
  prd.source.ptr = this;
  prd.read_callback = AppH2cConn::ReadResponse;
  if (nghttp2_submit_response(conn_->h2(), sid_, nva.data(), nva.size(), &prd) != 0) {
    Fail("E_INTERNAL", "cannot submit the response head to the client", 0);
    return;
  }
  status_ = status;
  submitted_ = true;
  headSent_ = true;
  fromPeer_ = true;
  headNs_ = uv_hrtime();
  conn_->MarkDirty();
  conn_->ArmTimer();
}

void AppH2cExchange::OnRelayData(const uint8_t* data, size_t len) {
  lastActivityMs_ = Engine::NowMs();
  responseBytes_ += len;
  if (!headSent_ || responseDone_ || session_ == nullptr) {
    if (session_ != nullptr) session_->ConsumeStream(peerSid_, len);
    return;
  }
  out_.emplace_back(data, data + len);
  ResumeResponse();
}

void AppH2cExchange::OnRelayEnd() {
  if (!headSent_) return;  // a stream that ends without a head: its close says what happened
  outEnd_ = true;
  ResumeResponse();
}

void AppH2cExchange::OnRelayClosed(uint32_t h2code, bool sessionGone) {
  session_ = nullptr;
  CreditQueued();
  if (outEnd_ || responseDone_ || state_ != State::kForwarding) return;
  if (h2code == NGHTTP2_REFUSED_STREAM && !submitted_) {
    if (bodyless_ && !resent_ && !conn_->closing()) {
      // Refused unprocessed (RFC 9113 §8.7): JS sends it once more, as for HTTP/1 (app-http1.cc).
      resent_ = true;
      state_ = State::kDeciding;
      conn_->host()->Push(Event{static_cast<EventKind>(kAppRefused), conn_->id(), static_cast<int32_t>(token_), 0, 0, {}, {}});
      return;
    }
    Fail("E_PEER_REFUSED", "the peer refused the stream unprocessed (REFUSED_STREAM)", 502);
    return;
  }
  Fail("E_PEER_RESET", "stream to the peer failed: " + PeerStreamEnded(h2code, sessionGone), 502);
}

void AppH2cExchange::ResumeResponse() {
  if (deferred_) {
    deferred_ = false;
    nghttp2_session_resume_data(conn_->h2(), sid_);
  }
  conn_->MarkDirty();
}

// The exchange failed on this hop: an error answer while no head went out, else a reset.
void AppH2cExchange::Fail(const std::string& code, const std::string& message, int status) {
  if (failure_.empty()) {
    failure_ = code;
    failureMessage_ = message;
  }
  Detach(NGHTTP2_CANCEL);
  if (!submitted_ && status > 0) {
    AnswerError(status, code, message);
  } else if (!responseDone_) {
    nghttp2_submit_rst_stream(conn_->h2(), NGHTTP2_FLAG_NONE, sid_, NGHTTP2_INTERNAL_ERROR);
    conn_->MarkDirty();
  }
}

// The body src/http/rescue.ts's errorBody() writes, with the error's code in meshgate-error.
void AppH2cExchange::AnswerError(int status, const std::string& code, const std::string& message) {
  std::string body = code + ": " + message + "\n";
  std::vector<std::string> fields = {":status", std::to_string(status), "meshgate-error", code,
                                     "content-type", "text/plain; charset=utf-8", "content-length", std::to_string(body.size())};
  std::vector<nghttp2_nv> nva = MakeNv(fields);
  out_.clear();
  outHead_ = 0;
  fromPeer_ = false;
  status_ = status;
  submitted_ = true;
  int rv;
  if (headRequest_) {
    rv = nghttp2_submit_response(conn_->h2(), sid_, nva.data(), nva.size(), nullptr);
    responseDone_ = true;
  } else {
    out_.emplace_back(body.begin(), body.end());
    outEnd_ = true;
    nghttp2_data_provider prd;
    prd.source.ptr = this;
    prd.read_callback = AppH2cConn::ReadResponse;
    rv = nghttp2_submit_response(conn_->h2(), sid_, nva.data(), nva.size(), &prd);
  }
  if (rv != 0) nghttp2_submit_rst_stream(conn_->h2(), NGHTTP2_FLAG_NONE, sid_, NGHTTP2_INTERNAL_ERROR);
  conn_->MarkDirty();
}

ssize_t AppH2cExchange::ReadResponse(uint8_t* buf, size_t length, uint32_t* flags) {
  size_t copied = TakeQueued(out_, outHead_, buf, length);
  // The peer's window is credited as nghttp2 takes its bytes; nghttp2 takes them only while the
  // app socket keeps up (AppH2cConn::Flush stops at kMaxUnwritten).
  if (copied > 0 && fromPeer_ && session_ != nullptr) session_->ConsumeStream(peerSid_, copied);
  if (out_.empty() && outEnd_) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (!trailers_.empty()) {
      std::vector<nghttp2_nv> nva = MakeNv(trailers_);
      // nghttp2 copies the fields; the trailers go after this DATA frame.
      if (nghttp2_submit_trailer(conn_->h2(), sid_, nva.data(), nva.size()) == 0) *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
    }
    responseDone_ = true;
    // The answer is whole before the request: the rest of the request body is read and dropped
    // (the stream then closes as a whole exchange).
    if (!requestDone_) Detach(NGHTTP2_NO_ERROR);
    return static_cast<ssize_t>(copied);
  }
  if (copied == 0) {
    deferred_ = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  return static_cast<ssize_t>(copied);
}

// --- AppH2cConn ----------------------------------------------------------------------------------

AppH2cConn::AppH2cConn(AppHost* host, uint32_t id) : host_(host), id_(id) {}

AppH2cConn::~AppH2cConn() {
  exchanges_.clear();
  if (h2_ != nullptr) nghttp2_session_del(h2_);
}

int AppH2cConn::Adopt(int fd, std::vector<uint8_t>&& initial) {
  uv_tcp_init(host_->loop(), &tcp_);
  tcp_.data = this;
  uv_timer_init(host_->loop(), &timer_);
  timer_.data = this;
  handles_ = 2;
  int own = dup(fd);
  int rv = 0;
  if (own < 0) {
    rv = uv_translate_sys_error(errno);
  } else {
    rv = uv_tcp_open(&tcp_, own);
    if (rv != 0) close(own);  // once open, the handle owns the descriptor
  }
  if (rv == 0 && StartH2() != 0) rv = UV_ENOMEM;
  if (rv != 0) {
    CloseHandles();
    return rv;
  }
  uv_tcp_nodelay(&tcp_, 1);
  adoptedMs_ = Engine::NowMs();
  if (!initial.empty()) Receive(initial.data(), initial.size());
  if (!closing_) {
    if (uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), OnAlloc, OnRead) == 0) reading_ = true;
    ArmTimer();
    Flush();
  }
  return 0;
}

int AppH2cConn::StartH2() {
  nghttp2_session_callbacks* cb;
  if (nghttp2_session_callbacks_new(&cb) != 0) return -1;
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, OnBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(cb, OnHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, OnFrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, OnDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, OnStreamClose);
  nghttp2_option* opt;
  nghttp2_option_new(&opt);
  nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_option_set_max_outbound_ack(opt, 1000);  // control-frame flood (PING/SETTINGS acks)
  nghttp2_option_set_max_settings(opt, 32);
  nghttp2_option_set_max_continuations(opt, 8);     // CONTINUATION flood
  int rv = nghttp2_session_server_new2(&h2_, cb, this, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);
  if (rv != 0) {
    h2_ = nullptr;
    return -1;
  }
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, kMaxConcurrentStreams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(kStreamWindow)},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<uint32_t>(host_->options().limits.maxHeaderBytes)},
  };
  nghttp2_submit_settings(h2_, NGHTTP2_FLAG_NONE, iv, 3);
  nghttp2_session_set_local_window_size(h2_, NGHTTP2_FLAG_NONE, 0, kConnectionWindow);
  return 0;
}

void AppH2cConn::OnAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* self = static_cast<AppH2cConn*>(h->data);
  buf->base = reinterpret_cast<char*>(self->host_->readBuffer());
  buf->len = self->host_->readBufferSize();
}

void AppH2cConn::OnRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<AppH2cConn*>(s->data);
  if (nread == 0) return;
  if (nread < 0) {
    // EOF or an error: the client is gone, and so is every stream it had open.
    self->CloseNow();
    return;
  }
  self->Receive(reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread));
  if (!self->closing_) self->Flush();
}

void AppH2cConn::Receive(const uint8_t* data, size_t len) {
  if (h2_ == nullptr || closing_) return;
  ssize_t rv = nghttp2_session_mem_recv(h2_, data, len);
  if (rv < 0) {
    // nghttp2 queued a GOAWAY where the protocol allows one: send it, then close.
    Trip(kH2cProtocol, std::string("nghttp2: ") + nghttp2_strerror(static_cast<int>(rv)));
  }
  AnnounceHeads();
  if (unannouncedResets_ > 0) {
    host_->Push(Event{static_cast<EventKind>(kAppH2cResets), id_, 0, unannouncedResets_, 0, {}, {}});
    unannouncedResets_ = 0;
  }
  if (tripped_) FinishTrip();
}

// Heads complete in this read go to JavaScript now, except those the client already reset (a
// rapid-reset client costs no routing work) and all of them once the session was cut by a rule.
void AppH2cConn::AnnounceHeads() {
  std::vector<int32_t> heads;
  heads.swap(pendingHeads_);
  for (int32_t sid : heads) {
    AppH2cExchange* x = Find(sid);
    if (x == nullptr || x->state_ != AppH2cExchange::State::kHead) continue;
    if (tripped_) {
      x->state_ = AppH2cExchange::State::kAnswered;
      continue;
    }
    x->state_ = AppH2cExchange::State::kDeciding;
    Event ev{static_cast<EventKind>(kAppHead), id_, sid, 0, 0, {}, {}};
    std::string method, path;
    ev.strings.reserve(3 + x->fields_.size());
    for (size_t i = 0; i + 1 < x->fields_.size(); i += 2) {
      if (Is(x->fields_[i], ":method")) method = x->fields_[i + 1];
      else if (Is(x->fields_[i], ":path")) path = x->fields_[i + 1];
    }
    x->headRequest_ = method == "HEAD";
    bool upgrade = method == "CONNECT";
    ev.strings.push_back(method);
    ev.strings.push_back(path);
    ev.strings.push_back("2.0");
    for (size_t i = 0; i + 1 < x->fields_.size(); i += 2) {
      const std::string& name = x->fields_[i];
      if (Is(name, ":method") || Is(name, ":path")) continue;
      if (Is(name, ":protocol")) upgrade = true;
      ev.strings.push_back(name);
      ev.strings.push_back(x->fields_[i + 1]);
    }
    ev.flag = kHeadH2c | kHeadKeepAlive | (upgrade ? kHeadUpgrade : 0) | (x->hasBody_ ? kHeadHasBody : 0);
    for (size_t i = 0; i + 1 < x->fields_.size(); i += 2) {
      if (Is(x->fields_[i], "expect") && Lower(x->fields_[i + 1]) == "100-continue") x->expectContinue_ = true;
    }
    x->startNs_ = uv_hrtime();
    host_->Push(std::move(ev));
  }
}

AppH2cExchange* AppH2cConn::Find(int32_t sid) {
  auto it = exchanges_.find(sid);
  return it == exchanges_.end() ? nullptr : it->second.get();
}

int AppH2cConn::OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  auto* self = static_cast<AppH2cConn*>(user);
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  int32_t sid = frame->hd.stream_id;
  AppH2cExchange* x = self->Find(sid);
  if (x != nullptr) {
    x->inTrailers_ = true;  // a second header section: the request's trailers
    x->requestTrailers_.clear();
    return 0;
  }
  if (frame->headers.cat != NGHTTP2_HCAT_REQUEST) return 0;
  self->exchanges_[sid] = std::make_unique<AppH2cExchange>(self, sid);
  ++self->opened_;
  uint32_t max = self->host_->options().maxRequests;
  if (max > 0 && self->opened_ == max && !self->draining_) {
    // RFC 9113 §6.8: GOAWAY names the last stream processed (this one); the ones open finish.
    nghttp2_submit_goaway(self->h2_, NGHTTP2_FLAG_NONE, sid, NGHTTP2_NO_ERROR, nullptr, 0);
    self->draining_ = true;
    self->host_->Push(Event{static_cast<EventKind>(kAppH2cClosed), self->id_, 0, kH2cMaxRequests, 0,
                            {"the connection reached limits.maxRequestsPerConnection"}, {}});
  }
  return 0;
}

int AppH2cConn::OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                         const uint8_t* value, size_t valuelen, uint8_t, void* user) {
  auto* self = static_cast<AppH2cConn*>(user);
  AppH2cExchange* x = self->Find(frame->hd.stream_id);
  if (x == nullptr || x->tooLarge_) return 0;
  std::vector<std::string>& into = x->inTrailers_ ? x->requestTrailers_ : x->fields_;
  x->headerBytes_ += namelen + valuelen + 32;  // RFC 9113 §6.5.2's accounting
  if (x->headerBytes_ > self->host_->options().limits.maxHeaderBytes || into.size() / 2 >= kMaxHeaderPairs) {
    x->tooLarge_ = true;
    return 0;
  }
  into.emplace_back(reinterpret_cast<const char*>(name), namelen);
  into.emplace_back(reinterpret_cast<const char*>(value), valuelen);
  return 0;
}

int AppH2cConn::OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  auto* self = static_cast<AppH2cConn*>(user);
  int32_t sid = frame->hd.stream_id;
  AppH2cExchange* x = sid == 0 ? nullptr : self->Find(sid);
  bool end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  if (frame->hd.type == NGHTTP2_DATA || frame->hd.type == NGHTTP2_HEADERS) {
    bool empty = frame->hd.type == NGHTTP2_DATA ? frame->hd.length == 0 : (x != nullptr && (x->inTrailers_ ? x->requestTrailers_.empty() : x->fields_.empty()));
    if (empty && !end) {
      if (++self->emptyFrames_ > kMaxEmptyFrames) {
        self->Trip(kH2cFlood, frame->hd.type == NGHTTP2_DATA ? "flood: empty DATA frames" : "flood: HEADERS frames with no fields");
        return 0;
      }
    } else {
      self->emptyFrames_ = 0;  // a frame with a payload: the empty ones are no longer in a row
    }
  }
  switch (frame->hd.type) {
    case NGHTTP2_HEADERS: {
      if (x == nullptr) return 0;
      if (x->inTrailers_) {
        if (end) x->RequestEnded();
        return 0;
      }
      x->hasBody_ = !end;
      if (end) x->requestDone_ = true;
      if (x->tooLarge_) {
        x->state_ = AppH2cExchange::State::kAnswered;
        std::string message = "request head larger than the limit (" + std::to_string(self->host_->options().limits.maxHeaderBytes) +
                              " bytes, " + std::to_string(kMaxHeaderPairs) + " fields)";
        x->AnswerError(431, "E_HEADERS_TOO_LARGE", message);
        self->host_->Push(DoneEvent(self->id_, 0, 431, 0, "E_HEADERS_TOO_LARGE", "", message, 0, 0, 0, 0));
        return 0;
      }
      self->gotRequest_ = true;
      self->pendingHeads_.push_back(sid);
      return 0;
    }
    case NGHTTP2_DATA:
      if (x != nullptr && end) x->RequestEnded();
      return 0;
    case NGHTTP2_RST_STREAM:
      if (x != nullptr) self->ClientReset(x);
      return 0;
    default:
      return 0;
  }
}

// The client reset one of its streams: the premature-reset rule, checked on every reset.
void AppH2cConn::ClientReset(AppH2cExchange* x) {
  // As the peer session counts (Session::NoteStreamReset): not after the whole response went out.
  if (nghttp2_session_get_stream_local_close(h2_, x->sid_) == 1) return;
  if (Engine::NowMs() - x->openedAtMs_ < kPrematureResetMs) ++premature_;
  if (tripped_ || opened_ < kPrematureResetMinStreams || premature_ * 2 <= opened_) return;
  Trip(kH2cRapidReset, "premature resets: " + std::to_string(premature_) + " of " + std::to_string(opened_) +
                           " streams reset by the client within " + std::to_string(kPrematureResetMs) + " ms of opening");
}

// The session ends by a rule: GOAWAY with the rule's code and one event for JavaScript's log
// line and counter (this may run inside nghttp2's callbacks); FinishTrip, outside them, writes
// the GOAWAY and closes the connection.
void AppH2cConn::Trip(AppH2cCloseReason reason, const std::string& message) {
  if (tripped_) return;
  tripped_ = true;
  if (h2_ != nullptr && reason != kH2cProtocol) {
    bool calm = reason == kH2cRapidReset || reason == kH2cFlood;
    nghttp2_session_terminate_session(h2_, calm ? NGHTTP2_ENHANCE_YOUR_CALM : NGHTTP2_NO_ERROR);
  }
  host_->Push(Event{static_cast<EventKind>(kAppH2cClosed), id_, 0, static_cast<uint64_t>(reason), 0, {message}, {}});
}

void AppH2cConn::FinishTrip() {
  if (closing_) return;
  StopReading(&tcp_, reading_);
  Flush();
  if (handlesClosed_) return;
  closing_ = true;
  if (writesPending_ == 0) CloseHandles();
}

int AppH2cConn::OnDataChunk(nghttp2_session*, uint8_t, int32_t sid, const uint8_t* data, size_t len, void* user) {
  auto* self = static_cast<AppH2cConn*>(user);
  // The connection window is credited at once (one slow upstream never stalls the others); the
  // stream's once the peer stream took the bytes.
  nghttp2_session_consume_connection(self->h2_, len);
  AppH2cExchange* x = self->Find(sid);
  if (x == nullptr || x->state_ == AppH2cExchange::State::kAnswered) {
    nghttp2_session_consume_stream(self->h2_, sid, len);
    return 0;
  }
  x->requestBytes_ += len;
  x->PushBody(data, len);
  return 0;
}

int AppH2cConn::OnStreamClose(nghttp2_session*, int32_t sid, uint32_t code, void* user) {
  auto* self = static_cast<AppH2cConn*>(user);
  auto it = self->exchanges_.find(sid);
  if (it == self->exchanges_.end()) return 0;
  std::unique_ptr<AppH2cExchange> x = std::move(it->second);
  self->exchanges_.erase(it);
  switch (x->state_) {
    case AppH2cExchange::State::kHead:
      if (code != NGHTTP2_NO_ERROR) ++self->unannouncedResets_;
      break;
    case AppH2cExchange::State::kDeciding:
      self->host_->Push(Event{static_cast<EventKind>(kAppStreamGone), self->id_, sid, code, 0, {}, {}});
      break;
    case AppH2cExchange::State::kForwarding:
      self->Record(x.get(), code);
      break;
    case AppH2cExchange::State::kAnswered:
      break;
  }
  if (self->draining_ || self->closing_) self->MarkDirty();
  return 0;
}

// One record per forwarded exchange, as app-http1.cc's Record.
void AppH2cConn::Record(AppH2cExchange* x, uint32_t closeCode) {
  if (x->recorded_) return;
  x->recorded_ = true;
  int32_t flags = x->headSent_ ? kDoneHeadSent : kDoneBeforeHead;
  std::string failure = x->failure_;
  std::string message = x->failureMessage_;
  if (failure.empty() && (!x->responseDone_ || closeCode != NGHTTP2_NO_ERROR)) {
    failure = "E_UPSTREAM_RESET";
    message = closing_ ? "the client connection closed" : "the client reset the stream (HTTP/2 code " + std::to_string(closeCode) + ")";
    flags |= kDoneClientGone | kDoneClientReset;
    if (!x->headSent_) x->status_ = 0;
  }
  x->Detach(NGHTTP2_CANCEL);
  uint64_t now = uv_hrtime();
  double totalMs = static_cast<double>(now - x->startNs_) / 1e6;
  double headMs = x->headNs_ > x->startNs_ ? static_cast<double>(x->headNs_ - x->startNs_) / 1e6 : totalMs;
  host_->Push(DoneEvent(id_, x->token_, x->status_, flags, failure, x->peerError_, message, x->requestBytes_, x->responseBytes_,
                        headMs, totalMs));
}

ssize_t AppH2cConn::ReadResponse(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* flags,
                                 nghttp2_data_source* source, void*) {
  return static_cast<AppH2cExchange*>(source->ptr)->ReadResponse(buf, length, flags);
}

int AppH2cConn::Forward(int32_t sid, Session* session, const std::vector<std::string>& fields, uint64_t requestMs,
                        uint64_t idleMs, uint32_t token) {
  AppH2cExchange* x = Find(sid);
  if (x == nullptr || x->state_ != AppH2cExchange::State::kDeciding) return 1;
  bool endStream = x->requestDone_ && x->early_.empty() && x->requestTrailers_.empty();
  int32_t peerSid = session->RequestRelay(fields, endStream, x);
  if (peerSid < 0) return 2;
  x->bodyless_ = endStream;
  x->state_ = AppH2cExchange::State::kForwarding;
  x->session_ = session;
  x->peerSid_ = peerSid;
  x->token_ = token;
  x->requestMs_ = requestMs;
  x->idleMs_ = idleMs;
  x->lastActivityMs_ = Engine::NowMs();
  if (!x->early_.empty()) {
    std::vector<uint8_t> early;
    early.swap(x->early_);
    x->PushBody(early.data(), early.size());
  }
  if (x->requestDone_ && !endStream) x->RequestEnded();
  if (x->expectContinue_ && !x->requestDone_) {
    // The request goes on: the client may send its body (RFC 9110 §10.1.1). The `expect` field
    // itself is not forwarded (JS leaves it out of the wire head, as the JS path does).
    static const std::vector<std::string> kContinue = {":status", "100"};
    std::vector<nghttp2_nv> nv = MakeNv(kContinue);
    nghttp2_submit_headers(h2_, NGHTTP2_FLAG_NONE, sid, nullptr, nv.data(), nv.size(), nullptr);
  }
  ArmTimer();
  return 0;
}

int AppH2cConn::Answer(int32_t sid, int status, const std::string& code, const std::string& message) {
  AppH2cExchange* x = Find(sid);
  if (x == nullptr || x->state_ != AppH2cExchange::State::kDeciding) return 1;
  x->state_ = AppH2cExchange::State::kAnswered;
  if (!x->early_.empty()) {
    nghttp2_session_consume_stream(h2_, sid, x->early_.size());
    x->early_.clear();
  }
  x->AnswerError(status, code, message);
  Flush();
  return 0;
}

int AppH2cConn::Refuse(int32_t sid) {
  AppH2cExchange* x = Find(sid);
  if (x == nullptr || x->state_ != AppH2cExchange::State::kDeciding) return 1;
  x->state_ = AppH2cExchange::State::kAnswered;
  nghttp2_submit_rst_stream(h2_, NGHTTP2_FLAG_NONE, sid, NGHTTP2_REFUSED_STREAM);
  Drain();
  Flush();
  return 0;
}

void AppH2cConn::Drain() {
  if (closing_ || h2_ == nullptr) return;
  if (!draining_) {
    nghttp2_submit_goaway(h2_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(h2_), NGHTTP2_NO_ERROR, nullptr, 0);
    draining_ = true;
  }
  MarkDirty();
}

void AppH2cConn::MarkDirty() {
  if (dirty_ || handlesClosed_) return;
  dirty_ = true;
  host_->MarkH2cDirty(this);
}

void AppH2cConn::Flush() {
  dirty_ = false;
  if (handlesClosed_ || h2_ == nullptr) return;
  bool fromNghttp2 = false;
  if (SendPlainH2(h2_, reinterpret_cast<uv_stream_t*>(&tcp_), tx_, writesPending_, kMaxUnwritten, this, OnWrite, &fromNghttp2) != 0) {
    CloseNow();
    return;
  }
  CheckDone();
}

void AppH2cConn::OnWrite(uv_write_t* req, int status) {
  auto* w = static_cast<QueuedWrite*>(req->data);
  auto* self = static_cast<AppH2cConn*>(w->owner);
  self->writesPending_ -= w->bytes.size();
  delete w;
  if (status != 0) {
    self->CloseNow();
    return;
  }
  if (self->closing_) {
    if (self->writesPending_ == 0) self->CloseHandles();
    return;
  }
  if (self->writesPending_ < kMaxUnwritten / 2) self->Flush();
}

// A draining session closes once no stream is open and its output is written.
void AppH2cConn::CheckDone() {
  if (closing_ || h2_ == nullptr) return;
  bool over = !nghttp2_session_want_read(h2_) && !nghttp2_session_want_write(h2_);
  if (draining_ && exchanges_.empty() && !nghttp2_session_want_write(h2_)) over = true;
  if (!over) return;
  closing_ = true;
  StopReading(&tcp_, reading_);
  if (writesPending_ == 0) CloseHandles();
}

void AppH2cConn::ArmTimer() {
  if (handlesClosed_) return;
  uint64_t due = gotRequest_ ? 0 : adoptedMs_ + host_->options().headerReadMs;
  for (auto& entry : exchanges_) due = Sooner(due, entry.second->DueMs());
  ArmDeadline(&timer_, OnTimer, due);
}

void AppH2cConn::OnTimer(uv_timer_t* t) {
  auto* self = static_cast<AppH2cConn*>(t->data);
  if (self->closing_) return;
  uint64_t now = Engine::NowMs();
  if (!self->gotRequest_ && now >= self->adoptedMs_ + self->host_->options().headerReadMs) {
    self->Trip(kH2cPrefaceTimeout, "no request head within " + std::to_string(self->host_->options().headerReadMs) + " ms");
    self->FinishTrip();
    return;
  }
  std::vector<AppH2cExchange*> late;
  for (auto& entry : self->exchanges_) {
    uint64_t d = entry.second->DueMs();
    if (d != 0 && d <= now) late.push_back(entry.second.get());
  }
  for (AppH2cExchange* x : late) {
    if (!x->headSent_) x->Fail("E_REQUEST_TIMEOUT", "no response head within " + std::to_string(x->requestMs_) + " ms", 504);
    else x->Fail("E_IDLE_TIMEOUT", "no response bytes for " + std::to_string(x->idleMs_) + " ms", 0);
  }
  self->Flush();
  self->ArmTimer();
}

void AppH2cConn::CloseNow() {
  if (handlesClosed_) return;
  closing_ = true;
  StopReading(&tcp_, reading_);
  CloseHandles();
}

void AppH2cConn::CloseHandles() {
  if (handlesClosed_) return;
  handlesClosed_ = true;
  closing_ = true;
  // nghttp2_session_del does not report its streams' closes: each exchange ends here.
  std::vector<int32_t> sids;
  for (auto& entry : exchanges_) sids.push_back(entry.first);
  for (int32_t sid : sids) {
    AppH2cExchange* x = Find(sid);
    if (x->state_ == AppH2cExchange::State::kDeciding) {
      host_->Push(Event{static_cast<EventKind>(kAppStreamGone), id_, sid, NGHTTP2_CANCEL, 0, {}, {}});
    } else if (x->state_ == AppH2cExchange::State::kForwarding) {
      Record(x, x->responseDone_ ? NGHTTP2_NO_ERROR : NGHTTP2_CANCEL);
    }
    x->Detach(NGHTTP2_CANCEL);
  }
  exchanges_.clear();
  uv_timer_stop(&timer_);
  auto done = [](uv_handle_t* h) {
    auto* self = static_cast<AppH2cConn*>(h->data);
    if (--self->handles_ == 0) self->host_->H2cClosed(self);
  };
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), done);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), done);
}

}  // namespace engine
}  // namespace meshgate
