// Native inbound delivery over h2c (see workload-h2c.h).
#include "workload-h2c.h"

#include <algorithm>
#include <cstring>

#include "http1-fields.h"

namespace meshgate {
namespace engine {

namespace {

// As src/inbound/h2c-upstream.ts: the workload's stream window 4 MiB, the connection's 16 MiB.
constexpr int32_t kStreamWindow = 4 * 1024 * 1024;
constexpr int32_t kConnectionWindow = 16 * 1024 * 1024;
constexpr size_t kMaxUnwritten = 1024 * 1024;      // bytes queued on the socket before nghttp2 waits
constexpr uint64_t kIdleSessionMs = 60 * 1000;     // a session with no stream for this long closes
constexpr size_t kMaxResponseHeaderBytes = 64 * 1024;
}  // namespace

// --- H2cDelivery ---------------------------------------------------------------------------------

H2cDelivery::H2cDelivery(Session* session, int32_t sid, WorkloadH2cPool* pool)
    : session_(session), connId_(session->id()), sid_(sid), pool_(pool), startNs_(uv_hrtime()) {}

bool H2cDelivery::Prepare(const std::vector<std::string>& fields, bool endStream, const std::string& caller) {
  DeliveryHead h = ReadDeliveryHead(fields);
  method_ = std::move(h.method);
  path_ = std::move(h.path);
  authority_ = std::move(h.authority);
  requestId_ = std::move(h.requestId);
  target_ = std::move(h.target);
  if (method_.empty() || path_.empty() || authority_.empty() || method_ == "CONNECT") return false;
  hasBody_ = !endStream;
  std::vector<std::string> named = ConnectionTokens(fields);
  fields_ = {":method", method_, ":scheme", "http", ":authority", authority_, ":path", path_};
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    const std::string& name = fields[i];
    const std::string& value = fields[i + 1];
    if (name.empty() || name[0] == ':' || Is(name, "host")) continue;
    if (Is(name, "te")) {
      if (strcasestr(value.c_str(), "trailers") != nullptr) {
        fields_.push_back("te");
        fields_.push_back("trailers");
      }
      continue;
    }
    if (HopByHop(name) || Listed(named, name)) continue;
    if (MeshOnlyField(name)) continue;
    fields_.push_back(name);
    fields_.push_back(value);
  }
  fields_.push_back("meshgate-client-id");
  fields_.push_back(caller);
  return true;
}

void H2cDelivery::Start() { pool_->Acquire(this); }

void H2cDelivery::OnSessionReady(WorkloadH2cSession* ws) {
  waiting_ = false;
  if (streamGone_) {
    Finish();
    return;
  }
  int32_t wsid = ws->Submit(this, fields_, hasBody_ && !discarding_);
  if (wsid < 0) {
    OnSessionFailed("E_UPSTREAM_RESET", pool_->target().address + ": the h2c session refused a new stream");
    return;
  }
  ws_ = ws;
  wsid_ = wsid;
  opened_ = true;
  sentAtMs_ = Engine::NowMs();
  lastActivityMs_ = sentAtMs_;
  fields_.clear();
  fields_.shrink_to_fit();
  ws->ArmTimer();
}

void H2cDelivery::OnSessionFailed(const char* code, const std::string& message) {
  waiting_ = false;
  OnWorkloadClosed(NGHTTP2_NO_ERROR, code, message);
}

ssize_t H2cDelivery::ReadRequest(uint8_t* buf, size_t length, uint32_t* flags) {
  size_t copied = TakeQueued(out_, outHead_, buf, length);
  // The peer's window is credited as the workload session takes its bytes.
  if (copied > 0 && session_ != nullptr && !streamGone_) session_->ConsumeStream(sid_, copied);
  if (out_.empty() && (outEnd_ || discarding_)) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    return static_cast<ssize_t>(copied);
  }
  if (copied == 0) {
    deferred_ = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  return static_cast<ssize_t>(copied);
}

void H2cDelivery::ResumeRequest() {
  if (ws_ == nullptr) return;
  if (deferred_) {
    deferred_ = false;
    nghttp2_session_resume_data(ws_->h2(), wsid_);
  }
  ws_->MarkDirty();
}

uint64_t H2cDelivery::DueMs() const {
  if (ws_ == nullptr || responseDone_) return 0;
  const NativeTarget& t = pool_->target();
  if (!headSent_) return t.requestMs > 0 ? sentAtMs_ + t.requestMs : 0;
  return t.idleMs > 0 ? lastActivityMs_ + t.idleMs : 0;
}

void H2cDelivery::TimedOut() {
  const NativeTarget& t = pool_->target();
  if (!headSent_) Fail("E_REQUEST_TIMEOUT", t.address + ": no response head within " + std::to_string(t.requestMs) + " ms");
  else Fail("E_IDLE_TIMEOUT", t.address + ": no response bytes for " + std::to_string(t.idleMs) + " ms");
}

// This hop failed (a timeout): the workload's stream is reset (its close, from nghttp2, finishes
// the delivery: until then nghttp2 may still call ReadRequest) and the peer is told now.
void H2cDelivery::Fail(const char* code, const std::string& message) {
  if (ws_ != nullptr) ws_->Reset(wsid_, NGHTTP2_CANCEL);
  FailPeer(code, message);
}

void H2cDelivery::OnRelayHeaders(std::vector<std::string>&&, bool, bool) {
  // Request trailers are not passed on, as on the JS path (src/inbound/request-body.ts pipes the body).
}

void H2cDelivery::OnRelayData(const uint8_t* data, size_t len) {
  requestBytes_ += len;
  if (discarding_ || (opened_ && ws_ == nullptr)) {
    if (session_ != nullptr) session_->ConsumeStream(sid_, len);
    return;
  }
  out_.emplace_back(data, data + len);  // at most the peer stream's window
  ResumeRequest();
}

void H2cDelivery::OnRelayEnd() {
  outEnd_ = true;
  ResumeRequest();
}

void H2cDelivery::OnRelayBodyTaken() {
  if (session_ == nullptr || ws_ == nullptr) return;
  Stream* s = session_->FindStream(sid_);
  size_t pending = s == nullptr ? 0 : s->outBytes;
  if (pending >= queued_) return;
  nghttp2_session_consume_stream(ws_->h2(), wsid_, queued_ - pending);
  queued_ = pending;
  ws_->MarkDirty();
}

void H2cDelivery::OnRelayClosed(uint32_t h2code, bool sessionGone) {
  streamGone_ = true;
  session_ = nullptr;
  if (!responseDone_) {
    peerGone_ = true;
    if (errorCode_.empty()) {
      errorCode_ = "E_PEER_RESET";
      errorMessage_ = PeerStreamEnded(h2code, sessionGone);
    }
  }
  if (waiting_) {
    pool_->Cancel(this);
    waiting_ = false;
  }
  if (ws_ != nullptr) ws_->Reset(wsid_, NGHTTP2_CANCEL);
  Finish();
}

void H2cDelivery::OnResponseHeaders(std::vector<std::string>&& fields, bool endStream) {
  if (responseDone_) return;  // answered already (a timeout): the workload's late head is dropped
  lastActivityMs_ = Engine::NowMs();
  int status = 0;
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    if (Is(fields[i], ":status")) status = atoi(fields[i + 1].c_str());
  }
  if (headSent_) {
    // A second section: the trailers (nghttp2 has checked that it ends the stream).
    trailers_ = StreamFields(std::move(fields), true);
    if (endStream) OnResponseEnd();
    return;
  }
  if (status >= 100 && status < 200) return;  // informational: not relayed, as on the JS path
  headSent_ = true;
  headNs_ = uv_hrtime();
  status_ = status;
  if (streamGone_ || session_ == nullptr) return;
  session_->Respond(sid_, StreamFields(std::move(fields), false), endStream);
  if (endStream) OnResponseEnd();
  if (ws_ != nullptr) ws_->ArmTimer();
}

void H2cDelivery::OnResponseData(const uint8_t* data, size_t len) {
  lastActivityMs_ = Engine::NowMs();
  responseBytes_ += len;
  Stream* s = streamGone_ || session_ == nullptr || responseDone_ ? nullptr : session_->FindStream(sid_);
  if (s == nullptr || s->relay != this || !s->hasProvider) {
    if (ws_ != nullptr) nghttp2_session_consume_stream(ws_->h2(), wsid_, len);
    return;
  }
  s->out.emplace_back(data, data + len);
  s->outBytes += len;
  queued_ += len;
  session_->StreamIoChanged(s);
}

void H2cDelivery::OnResponseEnd() {
  if (responseDone_) return;
  responseDone_ = true;
  endNs_ = uv_hrtime();
  Stream* s = streamGone_ || session_ == nullptr ? nullptr : session_->FindStream(sid_);
  if (s == nullptr || s->relay != this || !s->hasProvider) return;
  s->trailers = std::move(trailers_);
  s->outEnd = true;
  session_->StreamIoChanged(s);
}

// The workload's stream closed (or never opened: the session failed first). A close before the
// whole response is this hop's failure.
void H2cDelivery::OnWorkloadClosed(uint32_t h2code, const char* code, const std::string& message) {
  ws_ = nullptr;
  if (!responseDone_) {
    FailPeer(code, message.empty() ? pool_->target().address + ": the workload reset the h2c stream (HTTP/2 code " + std::to_string(h2code) + ")" : message);
  }
  DiscardRequest();  // a whole early answer (a 413 to an upload) leaves the rest of the body unwanted
  Finish();
}

// The rest of the request body has nowhere to go: what is held and what comes is credited to the
// peer, so that its upload is never left waiting on a window.
void H2cDelivery::DiscardRequest() {
  if (outEnd_ || streamGone_ || discarding_) return;
  discarding_ = true;
  size_t held = 0;
  for (auto& chunk : out_) held += chunk.size();
  held -= outHead_;
  out_.clear();
  outHead_ = 0;
  if (held > 0 && session_ != nullptr) session_->ConsumeStream(sid_, held);
}

// No whole response will come: the peer gets the error answer while no head went to it, else a
// reset (so that the caller cannot take a cut body for a whole one).
void H2cDelivery::FailPeer(const char* code, const std::string& message) {
  if (responseDone_) return;
  if (errorCode_.empty()) {
    errorCode_ = code;
    errorMessage_ = message;
  }
  responseDone_ = true;
  if (!streamGone_ && session_ != nullptr) {
    if (!headSent_) {
      Answer(StatusFor(errorCode_.c_str()), errorCode_.c_str(), errorMessage_);
    } else {
      Session* s = session_;
      session_ = nullptr;
      streamGone_ = true;
      s->DetachRelay(sid_, this, NGHTTP2_INTERNAL_ERROR);
    }
  }
  DiscardRequest();
}

// No response head came: the error answer src/inbound answers (as WorkloadExchange::Answer).
void H2cDelivery::Answer(int status, const char* code, const std::string& message) {
  status_ = status;
  AnswerDeliveryError(session_, sid_, status, code, message, method_ == "HEAD");
}

// Over once the peer stream is gone, the workload's stream closed (or never opened) and the pool
// holds it no more.
void H2cDelivery::Finish() {
  if (finished_ || !streamGone_ || ws_ != nullptr || waiting_) return;
  finished_ = true;
  Record();
  pool_->engine()->RetireExchange(this);
}

void H2cDelivery::Record() {
  PushDelivered(pool_->engine(), {connId_, sid_, status_, headSent_, peerGone_, startNs_, headNs_, endNs_, requestBytes_, responseBytes_,
                                  TakeStrings({&target_, &method_, &path_, &authority_, &requestId_, &errorCode_, &errorMessage_, nullptr})});
}

// --- WorkloadH2cSession --------------------------------------------------------------------------

WorkloadH2cSession::WorkloadH2cSession(WorkloadH2cPool* pool) : pool_(pool) {}

void WorkloadH2cSession::Connect() {
  Engine* engine = pool_->engine();
  uv_tcp_init(engine->loop(), &tcp_);
  tcp_.data = this;
  uv_timer_init(engine->loop(), &timer_);
  timer_.data = this;
  uv_idle_init(engine->loop(), &idle_);
  idle_.data = this;
  handles_ = 3;
  for (int i = 0; i < 3; ++i) engine->WorkloadHandleOpened();
  connectStartMs_ = Engine::NowMs();
  connectReq_.data = this;
  const NativeTarget& t = pool_->target();
  int rv = uv_tcp_connect(&connectReq_, &tcp_, reinterpret_cast<const sockaddr*>(&t.addr), OnConnect);
  if (rv != 0) {
    Kill(Unreachable(rv) ? "E_UPSTREAM_UNREACHABLE" : "E_UPSTREAM_RESET", t.address + ": connect " + uv_err_name(rv));
    return;
  }
  ArmTimer();
}

void WorkloadH2cSession::OnConnect(uv_connect_t* req, int status) {
  auto* self = static_cast<WorkloadH2cSession*>(req->data);
  if (self->closing_) return;
  const NativeTarget& t = self->pool_->target();
  if (status != 0) {
    self->Kill(Unreachable(status) ? "E_UPSTREAM_UNREACHABLE" : "E_UPSTREAM_RESET", t.address + ": connect " + uv_err_name(status));
    return;
  }
  uv_tcp_nodelay(&self->tcp_, 1);
  if (self->StartH2() != 0) {
    self->Kill("E_UPSTREAM_RESET", t.address + ": cannot start an h2c session");
    return;
  }
  self->connected_ = true;
  self->idleSinceMs_ = Engine::NowMs();
  if (uv_read_start(reinterpret_cast<uv_stream_t*>(&self->tcp_), OnAlloc, OnRead) == 0) self->reading_ = true;
  std::vector<H2cDelivery*> waiting;
  waiting.swap(self->waiting_);
  for (H2cDelivery* x : waiting) x->OnSessionReady(self);
  self->Flush();
  self->ArmTimer();
}

int WorkloadH2cSession::StartH2() {
  nghttp2_session_callbacks* cb;
  if (nghttp2_session_callbacks_new(&cb) != 0) return -1;
  nghttp2_session_callbacks_set_on_header_callback(cb, OnHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, OnFrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, OnDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, OnStreamClose);
  nghttp2_option* opt;
  nghttp2_option_new(&opt);
  nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_option_set_max_outbound_ack(opt, 1000);
  nghttp2_option_set_max_continuations(opt, 8);
  int rv = nghttp2_session_client_new2(&h2_, cb, this, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);
  if (rv != 0) {
    h2_ = nullptr;
    return -1;
  }
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(kStreamWindow)},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, static_cast<uint32_t>(kMaxResponseHeaderBytes)},
  };
  nghttp2_submit_settings(h2_, NGHTTP2_FLAG_NONE, iv, 3);
  nghttp2_session_set_local_window_size(h2_, NGHTTP2_FLAG_NONE, 0, kConnectionWindow);
  return 0;
}

int32_t WorkloadH2cSession::Submit(H2cDelivery* x, const std::vector<std::string>& fields, bool hasBody) {
  if (h2_ == nullptr || !usable()) return -1;
  std::vector<nghttp2_nv> nva = MakeNv(fields);
  nghttp2_data_provider prd;
  prd.source.ptr = x;
  prd.read_callback = ReadRequest;
  int32_t wsid = nghttp2_submit_request(h2_, nullptr, nva.data(), nva.size(), hasBody ? &prd : nullptr, x);
  if (wsid < 0) return -1;
  streams_[wsid] = x;
  MarkDirty();
  return wsid;
}

void WorkloadH2cSession::Reset(int32_t wsid, uint32_t h2code) {
  if (h2_ == nullptr || closing_) return;
  nghttp2_submit_rst_stream(h2_, NGHTTP2_FLAG_NONE, wsid, h2code);
  MarkDirty();
}

void WorkloadH2cSession::Cancel(H2cDelivery* x) {
  waiting_.erase(std::remove(waiting_.begin(), waiting_.end(), x), waiting_.end());
}

H2cDelivery* WorkloadH2cSession::Find(int32_t wsid) {
  auto it = streams_.find(wsid);
  return it == streams_.end() ? nullptr : it->second;
}

ssize_t WorkloadH2cSession::ReadRequest(nghttp2_session*, int32_t, uint8_t* buf, size_t length, uint32_t* flags,
                                        nghttp2_data_source* source, void*) {
  return static_cast<H2cDelivery*>(source->ptr)->ReadRequest(buf, length, flags);
}

int WorkloadH2cSession::OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                                 const uint8_t* value, size_t valuelen, uint8_t, void* user) {
  auto* self = static_cast<WorkloadH2cSession*>(user);
  H2cDelivery* x = self->Find(frame->hd.stream_id);
  if (x == nullptr) return 0;
  std::vector<std::string>& into = x->responseFields();
  x->responseHeaderBytes_ += namelen + valuelen + 32;  // RFC 9113 §6.5.2's accounting
  if (x->responseHeaderBytes_ > kMaxResponseHeaderBytes) {
    x->NoteTooLarge();
    return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;  // nghttp2 resets the stream; its close answers 502
  }
  into.emplace_back(reinterpret_cast<const char*>(name), namelen);
  into.emplace_back(reinterpret_cast<const char*>(value), valuelen);
  return 0;
}

int WorkloadH2cSession::OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  auto* self = static_cast<WorkloadH2cSession*>(user);
  bool end = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  switch (frame->hd.type) {
    case NGHTTP2_HEADERS: {
      H2cDelivery* x = self->Find(frame->hd.stream_id);
      if (x == nullptr) return 0;
      std::vector<std::string> fields;
      fields.swap(x->responseFields());
      x->OnResponseHeaders(std::move(fields), end);
      return 0;
    }
    case NGHTTP2_DATA:
      if (end) {
        H2cDelivery* x = self->Find(frame->hd.stream_id);
        if (x != nullptr) x->OnResponseEnd();
      }
      return 0;
    case NGHTTP2_GOAWAY:
      self->goingAway_ = true;  // no new streams here; the pool opens another session
      return 0;
    default:
      return 0;
  }
}

int WorkloadH2cSession::OnDataChunk(nghttp2_session*, uint8_t, int32_t sid, const uint8_t* data, size_t len, void* user) {
  auto* self = static_cast<WorkloadH2cSession*>(user);
  nghttp2_session_consume_connection(self->h2_, len);
  H2cDelivery* x = self->Find(sid);
  if (x == nullptr) {
    nghttp2_session_consume_stream(self->h2_, sid, len);
    return 0;
  }
  x->OnResponseData(data, len);
  return 0;
}

int WorkloadH2cSession::OnStreamClose(nghttp2_session*, int32_t sid, uint32_t code, void* user) {
  auto* self = static_cast<WorkloadH2cSession*>(user);
  auto it = self->streams_.find(sid);
  if (it == self->streams_.end()) return 0;
  H2cDelivery* x = it->second;
  self->streams_.erase(it);
  x->OnWorkloadClosed(code, "E_UPSTREAM_RESET", "");
  if (self->streams_.empty()) {
    self->idleSinceMs_ = Engine::NowMs();
    self->ArmTimer();  // the idle close (the stream timers may have been off)
  }
  return 0;
}

void WorkloadH2cSession::OnAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* self = static_cast<WorkloadH2cSession*>(h->data);
  std::vector<uint8_t>& shared = self->pool_->engine()->workloadReadBuffer();
  buf->base = reinterpret_cast<char*>(shared.data());
  buf->len = shared.size();
}

void WorkloadH2cSession::OnRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<WorkloadH2cSession*>(s->data);
  if (nread == 0 || self->closing_) return;
  const std::string& address = self->pool_->target().address;
  if (nread < 0) {
    self->Kill("E_UPSTREAM_RESET", address + ": the h2c session closed (" + uv_err_name(static_cast<int>(nread)) + ")");
    return;
  }
  ssize_t rv = nghttp2_session_mem_recv(self->h2_, reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread));
  if (rv < 0) {
    self->Kill("E_UPSTREAM_RESET", address + ": bad h2c from the workload (nghttp2: " + nghttp2_strerror(static_cast<int>(rv)) + ")");
    return;
  }
  self->Flush();
}

void WorkloadH2cSession::MarkDirty() {
  if (dirty_ || closing_) return;
  dirty_ = true;
  uv_idle_start(&idle_, OnIdle);
}

void WorkloadH2cSession::OnIdle(uv_idle_t* h) {
  auto* self = static_cast<WorkloadH2cSession*>(h->data);
  uv_idle_stop(h);
  self->Flush();
}

void WorkloadH2cSession::Flush() {
  dirty_ = false;
  if (closing_ || h2_ == nullptr || !connected_) return;
  bool fromNghttp2 = false;
  int rv = SendPlainH2(h2_, reinterpret_cast<uv_stream_t*>(&tcp_), tx_, writesPending_, kMaxUnwritten, this, OnWrite, &fromNghttp2);
  if (rv != 0) {
    Kill("E_UPSTREAM_RESET", pool_->target().address + (fromNghttp2 ? std::string(": nghttp2: ") + nghttp2_strerror(rv)
                                                                      : std::string(": write ") + uv_err_name(rv)));
    return;
  }
  if (!nghttp2_session_want_read(h2_) && !nghttp2_session_want_write(h2_) && writesPending_ == 0) {
    Kill("E_UPSTREAM_RESET", pool_->target().address + ": the h2c session ended");
  }
}

void WorkloadH2cSession::OnWrite(uv_write_t* req, int status) {
  auto* w = static_cast<QueuedWrite*>(req->data);
  auto* self = static_cast<WorkloadH2cSession*>(w->owner);
  self->writesPending_ -= w->bytes.size();
  delete w;
  if (self->closing_) return;
  if (status != 0) {
    self->Kill("E_UPSTREAM_RESET", self->pool_->target().address + ": write " + uv_err_name(status));
    return;
  }
  if (self->writesPending_ < kMaxUnwritten / 2) self->Flush();
}

void WorkloadH2cSession::ArmTimer() {
  if (closing_) return;
  const NativeTarget& t = pool_->target();
  uint64_t due = 0;
  if (!connected_) {
    due = t.connectMs > 0 ? connectStartMs_ + t.connectMs : 0;
  } else if (streams_.empty()) {
    due = idleSinceMs_ + kIdleSessionMs;
  } else {
    for (auto& entry : streams_) due = Sooner(due, entry.second->DueMs());
  }
  ArmDeadline(&timer_, OnTimer, due);
}

void WorkloadH2cSession::OnTimer(uv_timer_t* t) {
  auto* self = static_cast<WorkloadH2cSession*>(t->data);
  if (self->closing_) return;
  uint64_t now = Engine::NowMs();
  const NativeTarget& target = self->pool_->target();
  if (!self->connected_) {
    if (target.connectMs > 0 && now >= self->connectStartMs_ + target.connectMs) {
      self->Kill("E_CONNECT_TIMEOUT", target.address + ": h2c connect timed out after " + std::to_string(target.connectMs) + " ms");
      return;
    }
  } else if (self->streams_.empty()) {
    if (now >= self->idleSinceMs_ + kIdleSessionMs) {
      self->goingAway_ = true;
      self->Kill("E_UPSTREAM_RESET", target.address + ": idle h2c session closed");
      return;
    }
  } else {
    std::vector<H2cDelivery*> late;
    for (auto& entry : self->streams_) {
      uint64_t d = entry.second->DueMs();
      if (d != 0 && d <= now) late.push_back(entry.second);
    }
    for (H2cDelivery* x : late) x->TimedOut();
    self->Flush();
    if (self->closing_) return;
  }
  self->ArmTimer();
}

// The session ends now: its deliveries fail with `code` (those waiting for the connect too).
void WorkloadH2cSession::Kill(const char* code, const std::string& message) {
  if (closing_) return;
  closing_ = true;
  goingAway_ = true;
  StopReading(&tcp_, reading_);
  std::vector<H2cDelivery*> waiting;
  waiting.swap(waiting_);
  std::vector<H2cDelivery*> open;
  for (auto& entry : streams_) open.push_back(entry.second);
  streams_.clear();
  for (H2cDelivery* x : waiting) x->OnSessionFailed(code, message);
  for (H2cDelivery* x : open) x->OnWorkloadClosed(NGHTTP2_CANCEL, code, message);
  CloseHandles();
}

void WorkloadH2cSession::CloseHandles() {
  auto done = [](uv_handle_t* h) {
    auto* self = static_cast<WorkloadH2cSession*>(h->data);
    // The engine may delete itself (and its pools) once its last handle closed: that comes last.
    Engine* engine = self->pool_->engine();
    if (--self->handles_ == 0) self->pool_->SessionClosed(self);
    engine->WorkloadHandleClosed();
  };
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), done);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), done);
  uv_close(reinterpret_cast<uv_handle_t*>(&idle_), done);
}

// --- WorkloadH2cPool -----------------------------------------------------------------------------

// Sessions are deleted as their handles close (SessionClosed), before the engine can be: none is
// left by then; this is for an engine torn down with its loop.
WorkloadH2cPool::~WorkloadH2cPool() {
  for (WorkloadH2cSession* ws : sessions_) {
    if (ws->h2_ != nullptr) nghttp2_session_del(ws->h2_);
    delete ws;
  }
}

void WorkloadH2cPool::Acquire(H2cDelivery* x) {
  for (WorkloadH2cSession* ws : sessions_) {
    if (!ws->usable()) continue;
    if (ws->connected()) {
      x->OnSessionReady(ws);
    } else {
      x->SetWaiting(true);
      ws->Wait(x);
    }
    return;
  }
  auto* ws = new WorkloadH2cSession(this);
  sessions_.push_back(ws);
  x->SetWaiting(true);
  ws->Wait(x);
  ws->Connect();
}

void WorkloadH2cPool::Cancel(H2cDelivery* x) {
  for (WorkloadH2cSession* ws : sessions_) ws->Cancel(x);
}

void WorkloadH2cPool::SessionClosed(WorkloadH2cSession* ws) {
  sessions_.erase(std::remove(sessions_.begin(), sessions_.end(), ws), sessions_.end());
  if (ws->h2_ != nullptr) nghttp2_session_del(ws->h2_);
  delete ws;
}

void WorkloadH2cPool::CloseAll() {
  std::vector<WorkloadH2cSession*> all = sessions_;
  for (WorkloadH2cSession* ws : all) ws->Kill("E_UPSTREAM_RESET", target_.address + ": the engine is closing");
}

}  // namespace engine
}  // namespace meshgate
