// Native inbound delivery over HTTP/1 (see workload-http1.h).
#include "workload-http1.h"

#include <strings.h>

#include <algorithm>
#include <cstring>

#include "http1-fields.h"

namespace meshgate {
namespace engine {

namespace {

// As src/inbound/http1-upstream.ts: connections per target, and how long an idle one is kept
// (or the workload's own Keep-Alive hint less a second, if shorter).
constexpr size_t kMaxConnections = 256;
constexpr uint64_t kKeepAliveMs = 4000;
constexpr size_t kMaxResponseHeadBytes = 64 * 1024;
constexpr size_t kMaxResponseFields = 256;

// A request target that can go on an HTTP/1 request line as it is: no space, control or
// non-ASCII byte (node:http's client refuses those too; the JS path then answers E_BAD_REQUEST).
bool WritableTarget(const std::string& path) {
  if (path.empty()) return false;
  for (unsigned char c : path) {
    if (c <= 0x20 || c >= 0x7f) return false;
  }
  return true;
}

// Methods node:http's client frames with `content-length: 0` when they carry no body (it sends
// a body on them by default); the others get no framing field at all.
bool BodyByDefault(const std::string& method) {
  return method != "GET" && method != "HEAD" && method != "DELETE" && method != "OPTIONS" && method != "TRACE" &&
         method != "CONNECT";
}

// `timeout=N` of a Keep-Alive field in ms, less a second of margin (as node's agent keeps it).
bool KeepAliveHint(const std::string& value, uint64_t* ms) {
  const char* at = strcasestr(value.c_str(), "timeout=");
  if (at == nullptr) return false;
  long seconds = strtol(at + 8, nullptr, 10);
  *ms = seconds <= 1 ? 0 : static_cast<uint64_t>(seconds - 1) * 1000;
  return true;
}

}  // namespace

int StatusFor(const char* code) {
  if (strcmp(code, "E_CONNECT_TIMEOUT") == 0 || strcmp(code, "E_REQUEST_TIMEOUT") == 0 ||
      strcmp(code, "E_IDLE_TIMEOUT") == 0) {
    return 504;
  }
  if (strcmp(code, "E_BAD_REQUEST") == 0) return 400;
  return 502;  // E_UPSTREAM_UNREACHABLE, E_UPSTREAM_RESET
}

bool Unreachable(int uvError) {
  return uvError == UV_ECONNREFUSED || uvError == UV_EHOSTUNREACH || uvError == UV_ENETUNREACH ||
         uvError == UV_EADDRNOTAVAIL;
}

void PushDelivered(Engine* engine, DeliveryReport&& r) {
  uint64_t end = r.endNs != 0 ? r.endNs : uv_hrtime();
  double totalMs = static_cast<double>(end - r.startNs) / 1e6;
  double headMs = r.headNs != 0 ? static_cast<double>(r.headNs - r.startNs) / 1e6 : totalMs;
  int32_t flags = (r.headSent ? kDeliveredHeadSent : 0) | (r.peerGone ? kDeliveredPeerGone : 0);
  Event ev{kEventDelivered, r.conn, r.sid, static_cast<uint64_t>(r.status), flags, std::move(r.strings), {}};
  ev.strings.resize(kDeliveredStrings);
  ev.nums[0] = static_cast<double>(r.requestBytes);
  ev.nums[1] = static_cast<double>(r.responseBytes);
  ev.nums[2] = headMs;
  ev.nums[3] = totalMs;
  ev.numCount = 4;
  engine->Push(std::move(ev));
}

DeliveryHead ReadDeliveryHead(const std::vector<std::string>& fields) {
  DeliveryHead h;
  std::string host;
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    const std::string& name = fields[i];
    const std::string& value = fields[i + 1];
    if (Is(name, ":method")) h.method = value;
    else if (Is(name, ":path")) h.path = value;
    else if (Is(name, ":authority")) h.authority = value;
    else if (Is(name, "host")) host = value;
    else if (Is(name, "x-request-id")) h.requestId = value;
    else if (Is(name, "meshgate-orig-proto")) h.origProto = value;
    else if (Is(name, "meshgate-target")) h.target = value;
    else if (Is(name, "content-length")) h.hasLength = true;
  }
  if (h.authority.empty()) h.authority = std::move(host);
  return h;
}

bool MeshOnlyField(const std::string& name) {
  return Is(name, "meshgate-target") || Is(name, "meshgate-orig-proto") || Is(name, "meshgate-client-id");
}

std::vector<std::string> TakeStrings(std::initializer_list<std::string*> fields) {
  std::vector<std::string> out;
  out.reserve(fields.size());
  for (std::string* f : fields) {
    if (f != nullptr) out.push_back(std::move(*f));
    else out.emplace_back();
  }
  return out;
}

void AnswerDeliveryError(Session* session, int32_t sid, int status, const char* code, const std::string& message, bool headRequest) {
  std::vector<std::string> fields = {":status", std::to_string(status), "meshgate-error", code, "content-type",
                                     "text/plain; charset=utf-8"};
  session->Respond(sid, fields, headRequest);
  if (headRequest) return;
  std::vector<std::vector<uint8_t>> body(1);
  Append(body[0], message + "\n");
  session->Write(sid, std::move(body), true, {});
}

// --- WorkloadConn --------------------------------------------------------------------------------

struct WorkloadConn::WriteReq {
  uv_write_t req;
  std::vector<uint8_t> bytes;
  size_t credit;
  WorkloadConn* conn;
};

WorkloadConn::WorkloadConn(WorkloadPool* pool)
    : pool_(pool), parser_(kMaxResponseHeadBytes, kMaxResponseFields, nullptr) {}

void WorkloadConn::Connect() {
  Engine* engine = pool_->engine();
  uv_tcp_init(engine->loop(), &tcp_);
  tcp_.data = this;
  uv_timer_init(engine->loop(), &timer_);
  timer_.data = this;
  handles_ = 2;
  engine->WorkloadHandleOpened();
  connectReq_.data = this;
  connectStartMs_ = Engine::NowMs();
  int rv = uv_tcp_connect(&connectReq_, &tcp_, reinterpret_cast<const sockaddr*>(&pool_->target().addr), OnConnect);
  if (rv != 0) {
    Fail(Unreachable(rv) ? "E_UPSTREAM_UNREACHABLE" : "E_UPSTREAM_RESET",
         pool_->target().address + ": connect " + uv_err_name(rv));
    return;
  }
  ArmTimer();
}

void WorkloadConn::OnConnect(uv_connect_t* req, int status) {
  auto* self = static_cast<WorkloadConn*>(req->data);
  if (self->closing_) return;
  if (status != 0) {
    self->Fail(Unreachable(status) ? "E_UPSTREAM_UNREACHABLE" : "E_UPSTREAM_RESET",
               self->pool_->target().address + ": connect " + uv_err_name(status));
    return;
  }
  self->connected_ = true;
  uv_tcp_nodelay(&self->tcp_, 1);
  if (self->exchange_ != nullptr) self->exchange_->OnConnReady(self);
}

void WorkloadConn::ReadOn() {
  if (reading_ || closing_ || eof_ || !connected_) return;
  if (uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), OnAlloc, OnRead) == 0) reading_ = true;
}

void WorkloadConn::ReadOff() {
  StopReading(&tcp_, reading_);
}

void WorkloadConn::OnAlloc(uv_handle_t* h, size_t, uv_buf_t* buf) {
  auto* self = static_cast<WorkloadConn*>(h->data);
  std::vector<uint8_t>& shared = self->pool_->engine()->workloadReadBuffer();
  buf->base = reinterpret_cast<char*>(shared.data());
  buf->len = shared.size();
}

void WorkloadConn::OnRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<WorkloadConn*>(s->data);
  if (nread == 0 || self->closing_) return;
  WorkloadExchange* ex = self->exchange_;
  const std::string& address = self->pool_->target().address;
  if (ex == nullptr) {
    // Idle in the pool: the workload closed it (or sent bytes no request asked for).
    self->Close();
    return;
  }
  self->lastActivityMs_ = Engine::NowMs();
  Http1ResponseParser::Result result;
  size_t used = 0;
  size_t n = nread > 0 ? static_cast<size_t>(nread) : 0;
  if (nread == UV_EOF) {
    self->eof_ = true;
    self->ReadOff();
    result = self->parser_.Finish();
  } else if (nread < 0) {
    self->Fail("E_UPSTREAM_RESET", address + ": read " + uv_err_name(static_cast<int>(nread)));
    return;
  } else {
    result = self->parser_.Execute(reinterpret_cast<const uint8_t*>(buf->base), n, &used);
  }
  if (self->closing_ || self->exchange_ != ex) return;  // the exchange closed it from a callback
  switch (result) {
    case Http1ResponseParser::Result::kNeedMore:
      return;
    case Http1ResponseParser::Result::kError:
      self->Fail("E_UPSTREAM_RESET", address + ": " +
                                         (self->parser_.started() ? "invalid response (" + self->parser_.error() + ")"
                                                                  : std::string("connection closed before a response")));
      return;
    case Http1ResponseParser::Result::kDone:
      ex->OnConnDone(!self->eof_ && used == n);
      return;
  }
}

void WorkloadConn::Send(const uv_buf_t* bufs, unsigned count, size_t credit) {
  if (closing_) return;
  size_t total = 0;
  for (unsigned i = 0; i < count; ++i) total += bufs[i].len;
  size_t written = 0;
  if (writesPending_ == 0) {
    int rv = uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp_), bufs, count);
    if (rv > 0) written = static_cast<size_t>(rv);
    else if (rv != UV_EAGAIN && rv != UV_ENOSYS) {
      Fail("E_UPSTREAM_RESET", pool_->target().address + ": write " + uv_err_name(rv));
      return;
    }
  }
  lastActivityMs_ = Engine::NowMs();
  if (written == total) {
    if (credit > 0 && exchange_ != nullptr) exchange_->OnWritten(credit);
    return;
  }
  auto* w = new WriteReq{uv_write_t{}, {}, credit, this};
  w->bytes.reserve(total - written);
  size_t skip = written;
  for (unsigned i = 0; i < count; ++i) {
    size_t len = bufs[i].len;
    if (skip >= len) {
      skip -= len;
      continue;
    }
    w->bytes.insert(w->bytes.end(), bufs[i].base + skip, bufs[i].base + len);
    skip = 0;
  }
  w->req.data = w;
  uv_buf_t out = uv_buf_init(reinterpret_cast<char*>(w->bytes.data()), static_cast<unsigned>(w->bytes.size()));
  writesPending_ += w->bytes.size();
  creditPending_ += credit;
  int rv = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&tcp_), &out, 1, OnWrite);
  if (rv != 0) {
    writesPending_ -= w->bytes.size();
    creditPending_ -= credit;
    delete w;
    Fail("E_UPSTREAM_RESET", pool_->target().address + ": write " + uv_err_name(rv));
  }
}

void WorkloadConn::OnWrite(uv_write_t* req, int status) {
  auto* w = static_cast<WriteReq*>(req->data);
  WorkloadConn* self = w->conn;
  self->writesPending_ -= w->bytes.size();
  size_t credit = w->credit;
  self->creditPending_ -= std::min(self->creditPending_, credit);
  delete w;
  if (self->closing_) return;
  if (status != 0) {
    self->Fail("E_UPSTREAM_RESET", self->pool_->target().address + ": write " + uv_err_name(status));
    return;
  }
  self->lastActivityMs_ = Engine::NowMs();
  if (credit > 0 && self->exchange_ != nullptr) self->exchange_->OnWritten(credit);
}

size_t WorkloadConn::TakePendingCredit() {
  size_t c = creditPending_;
  creditPending_ = 0;
  return c;
}

void WorkloadConn::ArmTimer() {
  if (closing_ || handles_ == 0) return;
  uint64_t due = 0;
  const NativeTarget& t = pool_->target();
  auto sooner = [&due](uint64_t at) { due = Sooner(due, at); };
  if (!connected_) {
    if (t.connectMs > 0) sooner(connectStartMs_ + t.connectMs);
  } else if (exchange_ != nullptr) {
    if (t.idleMs > 0) sooner(lastActivityMs_ + t.idleMs);
    uint64_t head = exchange_->headDeadlineMs();
    if (head != 0) sooner(head);
  } else {
    sooner(idleSinceMs_ + keepAliveMs_);
  }
  ArmDeadline(&timer_, OnTimer, due);
}

void WorkloadConn::OnTimer(uv_timer_t* t) {
  auto* self = static_cast<WorkloadConn*>(t->data);
  if (self->closing_) return;
  uint64_t now = Engine::NowMs();
  const NativeTarget& target = self->pool_->target();
  if (!self->connected_) {
    if (now < self->connectStartMs_ + target.connectMs) return self->ArmTimer();
    self->Fail("E_CONNECT_TIMEOUT", target.address + ": connect timed out");
    return;
  }
  if (self->exchange_ == nullptr) {
    if (now < self->idleSinceMs_ + self->keepAliveMs_) return self->ArmTimer();
    self->Close();  // closed before the workload closes it under a request
    return;
  }
  uint64_t head = self->exchange_->headDeadlineMs();
  if (head != 0 && now >= head) {
    self->Fail("E_REQUEST_TIMEOUT", target.address + ": no response head within " + std::to_string(target.requestMs) + " ms");
    return;
  }
  if (target.idleMs > 0 && now >= self->lastActivityMs_ + target.idleMs) {
    self->Fail("E_IDLE_TIMEOUT", target.address + ": no bytes either way for " + std::to_string(target.idleMs) + " ms");
    return;
  }
  self->ArmTimer();
}

void WorkloadConn::StartIdle(uint64_t keepAliveMs) {
  idleSinceMs_ = Engine::NowMs();
  keepAliveMs_ = keepAliveMs;
  ReadOn();
  ArmTimer();
}

// A failure on the connection: it closes, and its exchange (if any) answers with `code`.
void WorkloadConn::Fail(const char* code, const std::string& message) {
  WorkloadExchange* ex = exchange_;
  exchange_ = nullptr;
  Close();
  if (ex != nullptr) ex->OnConnFailed(code, message);
}

void WorkloadConn::Close() {
  if (closing_) return;
  closing_ = true;
  exchange_ = nullptr;
  ReadOff();
  pool_->ConnClosing(this);
  if (handles_ == 0) {
    pool_->ConnClosed(this);
    return;
  }
  auto done = [](uv_handle_t* h) {
    auto* self = static_cast<WorkloadConn*>(h->data);
    if (--self->handles_ == 0) {
      Engine* engine = self->pool_->engine();
      self->pool_->ConnClosed(self);
      engine->WorkloadHandleClosed();
    }
  };
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), done);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), done);
}

// --- WorkloadPool --------------------------------------------------------------------------------

WorkloadPool::WorkloadPool(Engine* engine, const NativeTarget& target) : engine_(engine), target_(target) {}

WorkloadPool::~WorkloadPool() {
  for (WorkloadConn* c : all_) delete c;
}

void WorkloadPool::Acquire(WorkloadExchange* exchange) {
  while (!idle_.empty()) {
    WorkloadConn* conn = idle_.back();
    idle_.pop_back();
    if (conn->closing_ || conn->eof_) continue;
    conn->Attach(exchange);
    conn->ArmTimer();
    exchange->OnConnReady(conn);
    return;
  }
  if (open_ >= kMaxConnections) {
    waiting_.push_back(exchange);
    exchange->SetWaiting(true);
    return;
  }
  Open(exchange);
}

void WorkloadPool::Open(WorkloadExchange* exchange) {
  auto* conn = new WorkloadConn(this);
  all_.push_back(conn);
  ++open_;
  conn->Attach(exchange);
  exchange->OnConnAssigned(conn);
  conn->Connect();  // may fail at once: the exchange hears it (OnConnFailed)
}

void WorkloadPool::Cancel(WorkloadExchange* exchange) {
  waiting_.erase(std::remove(waiting_.begin(), waiting_.end(), exchange), waiting_.end());
  exchange->SetWaiting(false);
}

void WorkloadPool::Release(WorkloadConn* conn, bool keep, uint64_t keepAliveMs) {
  conn->Detach();
  if (!keep || conn->closing_ || conn->eof_ || keepAliveMs == 0 || engine_->closed()) {
    conn->Close();
    return;
  }
  if (!waiting_.empty()) {
    WorkloadExchange* next = waiting_.front();
    waiting_.pop_front();
    next->SetWaiting(false);
    conn->Attach(next);
    conn->ArmTimer();
    next->OnConnReady(conn);
    return;
  }
  idle_.push_back(conn);
  conn->StartIdle(keepAliveMs);
}

void WorkloadPool::ConnClosing(WorkloadConn* conn) {
  idle_.erase(std::remove(idle_.begin(), idle_.end(), conn), idle_.end());
  if (open_ > 0) --open_;
  if (!waiting_.empty() && open_ < kMaxConnections && !engine_->closed()) {
    WorkloadExchange* next = waiting_.front();
    waiting_.pop_front();
    next->SetWaiting(false);
    Open(next);
  }
}

void WorkloadPool::ConnClosed(WorkloadConn* conn) {
  all_.erase(std::remove(all_.begin(), all_.end(), conn), all_.end());
  delete conn;
}

void WorkloadPool::CloseIdle() {
  std::vector<WorkloadConn*> idle;
  idle.swap(idle_);
  for (WorkloadConn* c : idle) c->Close();
}

// --- WorkloadExchange ----------------------------------------------------------------------------

WorkloadExchange::WorkloadExchange(Session* session, int32_t sid, WorkloadPool* pool)
    : session_(session), connId_(session->id()), sid_(sid), pool_(pool), keepAliveMs_(kKeepAliveMs), startNs_(uv_hrtime()) {}

bool WorkloadExchange::Prepare(const std::vector<std::string>& fields, bool endStream, const std::string& caller) {
  std::string cookies;
  DeliveryHead h = ReadDeliveryHead(fields);
  method_ = std::move(h.method);
  path_ = std::move(h.path);
  authority_ = std::move(h.authority);
  requestId_ = std::move(h.requestId);
  origProto_ = std::move(h.origProto);
  target_ = std::move(h.target);
  if (!IsToken(method_) || !WritableTarget(path_) || authority_.empty()) return false;
  headRequest_ = method_ == "HEAD";
  std::vector<std::string> named = ConnectionTokens(fields);
  head_.reserve(256);
  Append(head_, method_);
  head_.push_back(' ');
  Append(head_, path_);
  Append(head_, " HTTP/1.1\r\n");
  AppendField(head_, "host", authority_);
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    const std::string& name = fields[i];
    const std::string& value = fields[i + 1];
    if (name.empty() || name[0] == ':') continue;
    if (Is(name, "te")) {
      if (strcasestr(value.c_str(), "trailers") != nullptr) Append(head_, "te: trailers\r\n");
      continue;
    }
    if (HopByHop(name) || Listed(named, name)) continue;
    if (MeshOnlyField(name)) continue;
    if (Is(name, "cookie")) {
      // RFC 9113 §8.2.3: crumbs split over several fields are one field again in HTTP/1.1.
      if (!cookies.empty()) cookies += "; ";
      cookies += value;
      continue;
    }
    AppendField(head_, name, value);
  }
  if (!cookies.empty()) AppendField(head_, "cookie", cookies);
  AppendField(head_, "meshgate-client-id", caller);
  if (!endStream && !h.hasLength) {
    chunked_ = true;
    Append(head_, "transfer-encoding: chunked\r\n");
  } else if (endStream && !h.hasLength && BodyByDefault(method_)) {
    Append(head_, "content-length: 0\r\n");
  }
  Append(head_, "\r\n");
  return true;
}

void WorkloadExchange::Start() { pool_->Acquire(this); }

void WorkloadExchange::OnConnAssigned(WorkloadConn* conn) { conn_ = conn; }

void WorkloadExchange::OnConnReady(WorkloadConn* conn) {
  conn_ = conn;
  conn->lastActivityMs_ = Engine::NowMs();
  conn->parser().Reset(headRequest_, this);
  // Ready while the peer session is still processing the read that brought the HEADERS: the
  // DATA frames of that read come next, and going out with them saves the workload a write and
  // a wakeup per request (a 1 KiB POST went out as two writes, 2.3 per request with a GET's 1.3).
  if (!requestEnded_ && session_ != nullptr && session_->receiving()) {
    headHeld_ = true;
    session_->HoldHead(this);
    return;
  }
  SendHead();
}

void WorkloadExchange::SendHeldHead() {
  if (!headHeld_) return;
  headHeld_ = false;
  // Failed or reset in the meantime: the connection is gone.
  if (conn_ == nullptr) return;
  if (discarding_ || responseDone_) {
    // Answered before anything was written: the connection carries no request of this exchange.
    DropConn();
    Finish();
    return;
  }
  SendHead();
}

// Closes this exchange's connection (not reusable: it is mid-exchange or was never used as
// expected) and lets it go.
void WorkloadExchange::DropConn() {
  WorkloadConn* conn = conn_;
  conn_ = nullptr;
  if (conn->exchange_ == this) conn->Detach();
  conn->Close();
}

void WorkloadExchange::SendHead() {
  WorkloadConn* conn = conn_;
  size_t credit = earlyCredit_;
  earlyCredit_ = 0;
  uv_buf_t bufs[2] = {uv_buf_init(reinterpret_cast<char*>(head_.data()), static_cast<unsigned>(head_.size())),
                      uv_buf_init(reinterpret_cast<char*>(early_.data()), static_cast<unsigned>(early_.size()))};
  if (requestEnded_) MarkSent();
  conn->Send(bufs, early_.empty() ? 1 : 2, credit);
  if (conn_ != conn) return;  // the write failed: the exchange has answered already
  head_.clear();
  head_.shrink_to_fit();
  early_.clear();
  early_.shrink_to_fit();
  conn->ReadOn();
  conn->ArmTimer();
}

void WorkloadExchange::MarkSent() {
  requestWritten_ = true;
  sentAtMs_ = Engine::NowMs();
}

uint64_t WorkloadExchange::headDeadlineMs() const {
  const NativeTarget& t = pool_->target();
  if (headSent_ || !requestWritten_ || t.requestMs == 0) return 0;
  return sentAtMs_ + t.requestMs;
}

void WorkloadExchange::OnWritten(size_t credit) {
  if (!streamGone_ && session_ != nullptr) session_->ConsumeStream(sid_, credit);
}

// The request body is not wanted any more (the exchange was answered or failed): what is held is
// credited to the peer, and what comes is credited as it arrives.
void WorkloadExchange::Discard() {
  discarding_ = true;
  size_t credit = earlyCredit_;
  earlyCredit_ = 0;
  early_.clear();
  if (conn_ != nullptr) credit += conn_->TakePendingCredit();
  if (credit > 0) OnWritten(credit);
}

void WorkloadExchange::OnRelayHeaders(std::vector<std::string>&&, bool, bool) {
  // Request trailers are not passed on over HTTP/1, as on the JS path.
}

void WorkloadExchange::OnRelayData(const uint8_t* data, size_t len) {
  requestBytes_ += len;
  if (discarding_ || responseDone_) {
    OnWritten(len);
    return;
  }
  char size[24];
  int n = chunked_ ? snprintf(size, sizeof(size), "%zx\r\n", len) : 0;
  if (conn_ != nullptr && conn_->connected() && !waiting_ && !headHeld_) {
    uv_buf_t bufs[3] = {uv_buf_init(size, static_cast<unsigned>(n)),
                        uv_buf_init(const_cast<char*>(reinterpret_cast<const char*>(data)), static_cast<unsigned>(len)),
                        uv_buf_init(const_cast<char*>("\r\n"), 2)};
    if (chunked_) conn_->Send(bufs, 3, len);
    else conn_->Send(bufs + 1, 1, len);
    return;
  }
  early_.insert(early_.end(), size, size + n);
  early_.insert(early_.end(), data, data + len);
  if (chunked_) Append(early_, "\r\n");
  earlyCredit_ += len;
}

void WorkloadExchange::OnRelayEnd() {
  if (requestEnded_) return;
  requestEnded_ = true;
  if (discarding_ || responseDone_) return;
  if (conn_ != nullptr && conn_->connected() && !waiting_ && !headHeld_) {
    MarkSent();
    if (chunked_) {
      uv_buf_t buf = uv_buf_init(const_cast<char*>("0\r\n\r\n"), 5);
      conn_->Send(&buf, 1, 0);
    }
    if (conn_ != nullptr) conn_->ArmTimer();
    return;
  }
  if (chunked_) Append(early_, "0\r\n\r\n");
}

void WorkloadExchange::OnRelayBodyTaken() {
  if (!readPaused_ || conn_ == nullptr || session_ == nullptr) return;
  Stream* s = session_->FindStream(sid_);
  if (s != nullptr && s->outBytes > session_->settings().sendHighWater / 2) return;
  readPaused_ = false;
  conn_->ReadOn();
}

void WorkloadExchange::OnRelayClosed(uint32_t h2code, bool sessionGone) {
  streamGone_ = true;
  session_ = nullptr;
  if (!responseDone_) {
    peerGone_ = true;
    if (errorCode_.empty()) {
      errorCode_ = "E_PEER_RESET";
      errorMessage_ = PeerStreamEnded(h2code, sessionGone);
    }
  }
  if (waiting_) pool_->Cancel(this);
  // Mid-exchange the connection cannot carry another request.
  if (conn_ != nullptr) DropConn();
  Finish();
}

void WorkloadExchange::OnResponseHead(int status, std::vector<std::string>&& fields) {
  headSent_ = true;
  headNs_ = uv_hrtime();
  status_ = status;
  noBody_ = headRequest_ || status == 204 || status == 205 || status == 304;
  LowerNames(fields);
  for (size_t i = 0; i + 1 < fields.size(); i += 2) {
    uint64_t hint = 0;
    if (Is(fields[i], "keep-alive") && KeepAliveHint(fields[i + 1], &hint)) keepAliveMs_ = std::min(keepAliveMs_, hint);
  }
  if (streamGone_ || session_ == nullptr) return;
  fields.insert(fields.begin(), {":status", std::to_string(status)});
  session_->Respond(sid_, StreamFields(std::move(fields), false), noBody_);
  if (conn_ != nullptr) conn_->ArmTimer();
}

void WorkloadExchange::OnResponseBody(const uint8_t* data, size_t len) {
  responseBytes_ += len;
  if (noBody_ || streamGone_ || session_ == nullptr) return;
  Stream* s = session_->FindStream(sid_);
  if (s == nullptr || s->relay != this || !s->hasProvider) return;
  s->out.emplace_back(data, data + len);
  s->outBytes += len;
  session_->StreamIoChanged(s);
  if (s->outBytes >= session_->settings().sendHighWater && conn_ != nullptr) {
    readPaused_ = true;
    conn_->ReadOff();
  }
}

void WorkloadExchange::OnResponseEnd(std::vector<std::string>&& trailers, bool keepAlive) {
  responseDone_ = true;
  endNs_ = uv_hrtime();
  keepAlive_ = keepAlive;
  if (streamGone_ || session_ == nullptr || noBody_) return;
  Stream* s = session_->FindStream(sid_);
  if (s == nullptr || s->relay != this || !s->hasProvider) return;
  LowerNames(trailers);
  s->outEnd = true;
  s->trailers = StreamFields(std::move(trailers), true);
  session_->StreamIoChanged(s);
}

// The connection has read the whole response (called after the parser returned).
void WorkloadExchange::OnConnDone(bool clean) {
  WorkloadConn* conn = conn_;
  conn_ = nullptr;
  if (conn == nullptr) return;
  // A request still being written when the answer came cannot leave the connection reusable.
  bool keep = clean && keepAlive_ && requestWritten_ && conn->writesPending() == 0;
  if (!requestWritten_) Discard();
  pool_->Release(conn, keep, keepAliveMs_);
  if (streamGone_) Finish();
}

void WorkloadExchange::OnConnFailed(const char* code, const std::string& message) {
  if (conn_ != nullptr) {
    size_t credit = conn_->TakePendingCredit();
    conn_ = nullptr;
    if (credit > 0) OnWritten(credit);
  }
  if (errorCode_.empty()) {
    errorCode_ = code;
    errorMessage_ = message;
  }
  if (streamGone_) {
    Finish();
    return;
  }
  Discard();
  if (!headSent_) {
    Answer(StatusFor(code), code, message);
    return;
  }
  // Too late for a status: a reset, so that the caller cannot take a cut body for a whole one.
  responseDone_ = true;
  Session* s = session_;
  session_ = nullptr;
  streamGone_ = true;
  s->DetachRelay(sid_, this, NGHTTP2_INTERNAL_ERROR);
  Finish();
}

// No response head came: the error answer src/inbound answers (transports/h3/server-exchange.ts reject()).
void WorkloadExchange::Answer(int status, const char* code, const std::string& message) {
  status_ = status;
  responseDone_ = true;
  AnswerDeliveryError(session_, sid_, status, code, message, headRequest_);
}

void WorkloadExchange::Finish() {
  if (finished_ || !streamGone_ || conn_ != nullptr || waiting_) return;
  finished_ = true;
  Record();
  pool_->engine()->RetireExchange(this);
}

void WorkloadExchange::Record() {
  PushDelivered(pool_->engine(), {connId_, sid_, status_, headSent_, peerGone_, startNs_, headNs_, endNs_, requestBytes_, responseBytes_,
                                  TakeStrings({&target_, &method_, &path_, &authority_, &requestId_, &errorCode_, &errorMessage_, &origProto_})});
}

}  // namespace engine
}  // namespace meshgate
