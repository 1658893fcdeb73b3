// One HTTP/2 peer session: a TCP socket, a GnuTLS session over it (TLS 1.3, ALPN h2, mutual
// authentication against the mesh CA), and an nghttp2 session over that (RFC 9113).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <strings.h>

#include "engine.h"
#include "http1-fields.h"
#include "splice.h"
#include "workload-h2c.h"
#include "workload-http1.h"

namespace meshgate {
namespace engine {

namespace {

struct WriteReq {
  uv_write_t req;
  std::vector<uint8_t> bytes;
  Session* session;
};

constexpr size_t kRecordBytes = 16384;             // TLS plaintext per record (RFC 8446 §5.1)
constexpr size_t kMaxUnwritten = 1024 * 1024;      // ciphertext queued on the socket before nghttp2 waits
constexpr uint64_t kTickMs = 100;
constexpr uint64_t kFinalGoawayDelayMs = 200;      // shutdown notice → final GOAWAY (RFC 9113 §6.8)

bool IsPerRequestField(const std::string& name) {
  return Is(name, "x-request-id");
}

}  // namespace

std::vector<nghttp2_nv> MakeNv(const std::vector<std::string>& flat) {
  std::vector<nghttp2_nv> nva;
  nva.reserve(flat.size() / 2);
  for (size_t i = 0; i + 1 < flat.size(); i += 2) {
    nghttp2_nv nv;
    nv.name = reinterpret_cast<uint8_t*>(const_cast<char*>(flat[i].data()));
    nv.namelen = flat[i].size();
    nv.value = reinterpret_cast<uint8_t*>(const_cast<char*>(flat[i + 1].data()));
    nv.valuelen = flat[i + 1].size();
    // A request id is new on every request: indexing it would only evict the entries that do
    // repeat (authority, target, ...) from the peer's HPACK table, which then costs a literal and
    // a table insert on every request (what to index is the encoder's choice, RFC 7541 §6.2).
    nv.flags = IsPerRequestField(flat[i]) ? NGHTTP2_NV_FLAG_NO_INDEX : NGHTTP2_NV_FLAG_NONE;
    nva.push_back(nv);
  }
  return nva;
}

Session::Session(Engine* engine, uint32_t id, bool server) : engine_(engine), id_(id), server_(server) {
  startedMs_ = Engine::NowMs();
  lastRecvMs_ = startedMs_;
  uv_tcp_init(engine->loop(), &tcp_);
  tcp_.data = this;
  uv_timer_init(engine->loop(), &timer_);
  timer_.data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(&timer_));
  handles_ = 2;
  uv_timer_start(&timer_, OnTimer, kTickMs, kTickMs);
}

Session::~Session() {
  if (h2_ != nullptr) nghttp2_session_del(h2_);
  if (tls_ != nullptr) gnutls_deinit(tls_);
}

uv_loop_t* Session::loop() const { return engine_->loop(); }
const Settings& Session::settings() const { return engine_->settings(); }

int Session::Connect(const sockaddr* addr, const std::string& servername, const std::string& expectedIdentity) {
  check_.expectedIdentity = expectedIdentity;
  alpn_ = servername;  // kept until the connect completes (SNI)
  connectReq_.data = this;
  return uv_tcp_connect(&connectReq_, &tcp_, addr, OnConnect);
}

void Session::OnConnect(uv_connect_t* req, int status) {
  auto* self = static_cast<Session*>(req->data);
  if (self->dead_) return;
  if (status != 0) {
    self->Kill(1, 0, std::string("connect failed: ") + uv_err_name(status) + " (" + uv_strerror(status) + ")");
  } else {
    std::string sni = self->alpn_;
    self->alpn_.clear();
    self->tcpOpen_ = true;
    uv_tcp_nodelay(&self->tcp_, 1);
    if (self->StartTls(sni, self->check_.expectedIdentity) == 0) self->ContinueHandshake();
  }
  self->engine_->Pump();
}

int Session::Accept(uv_stream_t* listener) {
  int rv = uv_accept(listener, reinterpret_cast<uv_stream_t*>(&tcp_));
  if (rv != 0) return rv;
  tcpOpen_ = true;
  uv_tcp_nodelay(&tcp_, 1);
  if (StartTls("", "") != 0) return 0;
  return 0;
}

int Session::StartTls(const std::string& servername, const std::string& expectedIdentity) {
  int rv = gnutls_init(&tls_, server_ ? GNUTLS_SERVER : GNUTLS_CLIENT);
  if (rv < 0) {
    tls_ = nullptr;
    Kill(1, 0, std::string("TLS init: ") + gnutls_strerror(rv));
    return -1;
  }
  gnutls_priority_set(tls_, engine_->priority());
  cred_ = engine_->credentials();
  gnutls_credentials_set(tls_, GNUTLS_CRD_CERTIFICATE, cred_->get());
  static const char kAlpn[] = "h2";
  gnutls_datum_t alpn{reinterpret_cast<unsigned char*>(const_cast<char*>(kAlpn)), 2};
  gnutls_alpn_set_protocols(tls_, &alpn, 1, GNUTLS_ALPN_MANDATORY);
  check_.server = server_;
  check_.expectedIdentity = expectedIdentity;
  if (server_) {
    check_.requirePeerCert = engine_->requireClientCert();
    gnutls_certificate_server_set_request(tls_, check_.requirePeerCert ? GNUTLS_CERT_REQUIRE : GNUTLS_CERT_REQUEST);
  } else if (!servername.empty()) {
    gnutls_server_name_set(tls_, GNUTLS_NAME_DNS, servername.data(), servername.size());
  }
  gnutls_session_set_ptr(tls_, &check_);
  gnutls_transport_set_ptr(tls_, this);
  gnutls_transport_set_pull_function(tls_, TlsPull);
  gnutls_transport_set_push_function(tls_, TlsPush);
  gnutls_transport_set_vec_push_function(tls_, TlsPushVec);
  rv = uv_read_start(reinterpret_cast<uv_stream_t*>(&tcp_), OnAlloc, OnRead);
  if (rv != 0) {
    Kill(1, 0, std::string("read: ") + uv_strerror(rv));
    return -1;
  }
  reading_ = true;
  return 0;
}

ssize_t Session::TlsPull(gnutls_transport_ptr_t ptr, void* data, size_t len) {
  auto* self = static_cast<Session*>(ptr);
  if (self->inPlaceLen_ > 0) {
    size_t n = std::min(self->inPlaceLen_, len);
    memcpy(data, self->inPlace_, n);
    self->inPlace_ += n;
    self->inPlaceLen_ -= n;
    return static_cast<ssize_t>(n);
  }
  size_t avail = self->rx_.size() - self->rxHead_;
  if (avail == 0) {
    if (self->eof_) return 0;
    gnutls_transport_set_errno(self->tls_, EAGAIN);
    return -1;
  }
  size_t n = std::min(avail, len);
  memcpy(data, self->rx_.data() + self->rxHead_, n);
  self->rxHead_ += n;
  if (self->rxHead_ == self->rx_.size()) {
    self->rx_.clear();
    self->rxHead_ = 0;
  }
  return static_cast<ssize_t>(n);
}

ssize_t Session::TlsPush(gnutls_transport_ptr_t ptr, const void* data, size_t len) {
  auto* self = static_cast<Session*>(ptr);
  const auto* bytes = static_cast<const uint8_t*>(data);
  self->tx_.insert(self->tx_.end(), bytes, bytes + len);
  return static_cast<ssize_t>(len);
}

ssize_t Session::TlsPushVec(gnutls_transport_ptr_t ptr, const giovec_t* iov, int iovcnt) {
  ssize_t total = 0;
  for (int i = 0; i < iovcnt; ++i) total += TlsPush(ptr, iov[i].iov_base, iov[i].iov_len);
  return total;
}

void Session::OnAlloc(uv_handle_t*, size_t, uv_buf_t* buf) {
  static thread_local char slab[256 * 1024];
  buf->base = slab;
  buf->len = sizeof(slab);
}

void Session::OnRead(uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<Session*>(s->data);
  if (self->dead_) return;
  if (nread > 0) {
    self->lastRecvMs_ = Engine::NowMs();
    self->OnCiphertext(reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread));
  } else if (nread < 0) {
    if (nread == UV_EOF) {
      self->eof_ = true;
      self->OnCiphertext(nullptr, 0);
      if (!self->dead_) {
        bool clean = self->goingAway_ && self->streams_.empty();
        if (!self->closeReason_.empty()) self->Kill(self->closeCode_, 0, self->closeReason_);
        else self->Kill(clean ? 0x100 : 1, clean ? 1 : 0, "connection closed by peer");
      }
    } else {
      self->Kill(1, 0, std::string("connection lost: ") + uv_err_name(static_cast<int>(nread)));
    }
  }
  self->engine_->Pump();
}

void Session::OnCiphertext(const uint8_t* data, size_t len) {
  // GnuTLS reads the socket's buffer in place when nothing older is waiting; what it leaves is
  // kept for the next read.
  if (len > 0 && rxHead_ == rx_.size()) {
    inPlace_ = data;
    inPlaceLen_ = len;
  } else if (len > 0) {
    rx_.insert(rx_.end(), data, data + len);
  }
  if (!handshakeDone_) ContinueHandshake();
  if (handshakeDone_ && !dead_) ReadRecords();
  if (inPlaceLen_ > 0) {
    rx_.insert(rx_.end(), inPlace_, inPlace_ + inPlaceLen_);
    inPlaceLen_ = 0;
  }
  inPlace_ = nullptr;
  // Only the splices that got peer bytes in this read (a session may carry many other streams).
  std::vector<Splice*> batched;
  batched.swap(batchedSplices_);
  for (Splice* splice : batched) splice->FlushToSocket();
  MarkDirty();
}

void Session::ContinueHandshake() {
  int rv = gnutls_handshake(tls_);
  MarkDirty();  // the handshake's own flight is in tx_
  if (rv == GNUTLS_E_AGAIN || rv == GNUTLS_E_INTERRUPTED) return;
  if (rv < 0) {
    std::string reason;
    if (!check_.verifyError.empty()) {
      reason = "peer certificate refused: " + check_.verifyError;
    } else if (rv == GNUTLS_E_FATAL_ALERT_RECEIVED) {
      reason = std::string("TLS alert from peer: ") + gnutls_alert_get_name(gnutls_alert_get(tls_));
    } else if (rv == GNUTLS_E_PREMATURE_TERMINATION || rv == GNUTLS_E_PULL_ERROR) {
      reason = "connection closed by peer during the TLS handshake";
    } else {
      reason = std::string("TLS handshake failed: ") + gnutls_strerror(rv);
    }
    WriteCiphertext();  // the alert
    Kill(1, 0, reason);
    return;
  }
  handshakeDone_ = true;
  gnutls_datum_t selected;
  if (gnutls_alpn_get_selected_protocol(tls_, &selected) != 0 || selected.size != 2 ||
      memcmp(selected.data, "h2", 2) != 0) {
    Kill(1, 0, "TLS: the peer did not agree on ALPN h2");
    return;
  }
  alpn_ = "h2";
  if (StartH2() != 0) return;
  // The server is ready once it has accepted our certificate; the client only once the server's
  // SETTINGS arrive, sent after the server accepted ours (so a refused client certificate fails
  // the connect instead of the first request).
  if (server_) Queue(Event{kEventHandshake, id_, -1, 0, 0, {check_.peerIdentity, alpn_, check_.peerChainHex}, {}});
}

int Session::StartH2() {
  nghttp2_session_callbacks* cb;
  nghttp2_session_callbacks_new(&cb);
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, OnBeginHeaders);
  nghttp2_session_callbacks_set_on_header_callback(cb, OnHeader);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, OnFrameRecv);
  nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, OnDataChunk);
  nghttp2_session_callbacks_set_on_stream_close_callback(cb, OnStreamClose);
  nghttp2_session_callbacks_set_on_invalid_frame_recv_callback(cb, OnInvalidFrame);
  nghttp2_option* opt;
  nghttp2_option_new(&opt);
  nghttp2_option_set_no_auto_window_update(opt, 1);
  nghttp2_option_set_max_outbound_ack(opt, 1000);   // control-frame flood (PING/SETTINGS acks)
  nghttp2_option_set_max_settings(opt, 32);         // SETTINGS entries per frame
  nghttp2_option_set_max_send_header_block_length(opt, settings().maxHeaderListBytes * 2);
  nghttp2_option_set_max_continuations(opt, 8);     // CONTINUATION flood
  int rv = server_ ? nghttp2_session_server_new2(&h2_, cb, this, opt)
                   : nghttp2_session_client_new2(&h2_, cb, this, opt);
  nghttp2_option_del(opt);
  nghttp2_session_callbacks_del(cb);
  if (rv != 0) {
    h2_ = nullptr;
    Kill(1, 0, std::string("nghttp2: ") + nghttp2_strerror(rv));
    return -1;
  }
  const Settings& s = settings();
  nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, s.maxConcurrentStreams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, static_cast<uint32_t>(s.streamWindow)},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, s.maxHeaderListBytes},
      {NGHTTP2_SETTINGS_ENABLE_CONNECT_PROTOCOL, 1},
  };
  size_t count = server_ ? 5 : 4;  // RFC 8441 §3: the server advertises extended CONNECT
  nghttp2_submit_settings(h2_, NGHTTP2_FLAG_NONE, iv, count);
  nghttp2_session_set_local_window_size(h2_, NGHTTP2_FLAG_NONE, 0, s.connectionWindow);
  MarkDirty();
  return 0;
}

void Session::SendHeldHeads() {
  if (heldHeads_.empty()) return;
  std::vector<WorkloadExchange*> held;
  held.swap(heldHeads_);
  for (WorkloadExchange* e : held) e->SendHeldHead();
  held.clear();
  if (heldHeads_.empty()) heldHeads_.swap(held);  // its capacity back: no allocation per read
}

void Session::ReadRecords() {
  // Every record this read brought is processed before a held request head goes out, so that a
  // head and the body that came with it in other records leave together.
  struct Receiving {
    Session* s;
    explicit Receiving(Session* session) : s(session) { s->receiving_ = true; }
    ~Receiving() {
      s->receiving_ = false;
      s->SendHeldHeads();
    }
  } receiving(this);
  uint8_t buf[kRecordBytes + 256];
  for (int guard = 0; guard < 100000 && !dead_; ++guard) {
    ssize_t n = gnutls_record_recv(tls_, buf, sizeof(buf));
    if (n > 0) {
      bytesReceived_ += static_cast<uint64_t>(n);
      ssize_t used = nghttp2_session_mem_recv(h2_, buf, static_cast<size_t>(n));
      if (used < 0) {
        // More than max_outbound_ack PING/SETTINGS acks queued is a flood like the others
        // (ENHANCE_YOUR_CALM, a reason JS reports as one); the rest are protocol errors. The
        // reason is set before Flush(): when the GOAWAY goes out at once, CheckDone() ends the
        // session there, and must not call it a clean close.
        bool flooded = used == NGHTTP2_ERR_FLOODED;
        closeCode_ = flooded ? NGHTTP2_ENHANCE_YOUR_CALM : NGHTTP2_PROTOCOL_ERROR;
        closeReason_ = flooded ? std::string("flood: PING or SETTINGS frames faster than their acknowledgements go out")
                               : std::string("HTTP/2 protocol error from peer: ") + nghttp2_strerror(static_cast<int>(used));
        nghttp2_session_terminate_session(h2_, closeCode_);
        Flush();
        Kill(closeCode_, 0, closeReason_);
        return;
      }
      if (!closeReason_.empty() && !nghttp2_session_want_read(h2_)) {
        // A flood rule ended the session inside a callback: GOAWAY is queued, stop reading.
        return;
      }
      continue;
    }
    if (n == 0) {
      eof_ = true;
      return;
    }
    if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
      // A post-handshake message (a TLS 1.3 NewSessionTicket) also answers AGAIN: go on while
      // records are still buffered.
      if (rxHead_ < rx_.size() || inPlaceLen_ > 0) continue;
      return;
    }
    if (gnutls_error_is_fatal(static_cast<int>(n)) == 0) continue;
    std::string reason = n == GNUTLS_E_FATAL_ALERT_RECEIVED
                             ? std::string("TLS alert from peer: ") + gnutls_alert_get_name(gnutls_alert_get(tls_))
                             : std::string("TLS: ") + gnutls_strerror(static_cast<int>(n));
    Kill(1, 0, reason);
    return;
  }
}

void Session::MarkDirty() {
  if (dead_ || dirty_) return;
  dirty_ = true;
  engine_->MarkDirty(this);
}

void Session::Flush() {
  dirty_ = false;
  if (dead_) return;
  if (h2_ != nullptr && handshakeDone_) {
    // nghttp2's output is packed into full TLS records: fewer records, fewer tags and writes.
    std::vector<uint8_t>& plain = plain_;
    plain.clear();
    size_t sent = 0;
    while (tx_.size() + writesPending_ < kMaxUnwritten && nghttp2_session_want_write(h2_)) {
      const uint8_t* data = nullptr;
      ssize_t n = nghttp2_session_mem_send(h2_, &data);
      if (n < 0) {
        Kill(NGHTTP2_INTERNAL_ERROR, 0, std::string("nghttp2: ") + nghttp2_strerror(static_cast<int>(n)));
        return;
      }
      if (n == 0) break;
      plain.insert(plain.end(), data, data + n);
      while (plain.size() - sent >= kRecordBytes) {
        gnutls_record_send(tls_, plain.data() + sent, kRecordBytes);
        sent += kRecordBytes;
      }
      if (sent > 0 && sent == plain.size()) {
        plain.clear();
        sent = 0;
      }
    }
    if (plain.size() > sent) gnutls_record_send(tls_, plain.data() + sent, plain.size() - sent);
    plain.clear();
  }
  WriteCiphertext();
  // The loop above stops at kMaxUnwritten; when the socket took all of it at once, no write
  // callback will come to ask for more, so ask again now.
  if (!dead_ && h2_ != nullptr && handshakeDone_ && writesPending_ == 0 && nghttp2_session_want_write(h2_)) MarkDirty();
  CheckDone();
}

void Session::WriteCiphertext() {
  if (tx_.empty() || !tcpOpen_ || dead_) return;
  lastSendMs_ = Engine::NowMs();
  size_t offset = 0;
  if (writesPending_ == 0) {
    uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(tx_.data()), static_cast<unsigned>(tx_.size()));
    int n = uv_try_write(reinterpret_cast<uv_stream_t*>(&tcp_), &b, 1);
    if (n > 0) offset = static_cast<size_t>(n);
    else if (n < 0 && n != UV_EAGAIN) {
      Kill(1, 0, std::string("write: ") + uv_err_name(n));
      return;
    }
  }
  bytesSent_ += tx_.size();
  if (offset == tx_.size()) {
    tx_.clear();
    return;
  }
  auto* w = new WriteReq();
  w->bytes.assign(tx_.begin() + static_cast<ptrdiff_t>(offset), tx_.end());
  w->session = this;
  w->req.data = w;
  tx_.clear();
  uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(w->bytes.data()), static_cast<unsigned>(w->bytes.size()));
  writesPending_ += w->bytes.size();
  int rv = uv_write(&w->req, reinterpret_cast<uv_stream_t*>(&tcp_), &b, 1, OnWrite);
  if (rv != 0) {
    writesPending_ -= w->bytes.size();
    delete w;
    Kill(1, 0, std::string("write: ") + uv_err_name(rv));
  }
}

void Session::OnWrite(uv_write_t* req, int status) {
  auto* w = static_cast<WriteReq*>(req->data);
  Session* self = w->session;
  self->writesPending_ -= w->bytes.size();
  delete w;
  if (self->dead_) return;
  if (status != 0) self->Kill(1, 0, std::string("write: ") + uv_err_name(status));
  else self->MarkDirty();
  self->engine_->Pump();
}

void Session::CheckDone() {
  if (dead_ || h2_ == nullptr) return;
  if (closeWhenIdle_ && streams_.empty() && finalGoawayAtMs_ == 0 && nghttp2_session_want_read(h2_)) {
    nghttp2_session_terminate_session(h2_, NGHTTP2_NO_ERROR);
    MarkDirty();
    return;
  }
  if (nghttp2_session_want_read(h2_) == 0 && nghttp2_session_want_write(h2_) == 0 && tx_.empty() &&
      writesPending_ == 0) {
    if (!closeReason_.empty()) Kill(closeCode_, 0, closeReason_);
    else Kill(0x100, 1, "session closed");
  }
}

void Session::OnTimer(uv_timer_t* t) {
  auto* self = static_cast<Session*>(t->data);
  if (self->dead_) return;
  self->Tick();
  self->engine_->Pump();
}

void Session::Tick() {
  uint64_t now = Engine::NowMs();
  // MESHGATE_ENGINE_DEBUG=1: once a second, each session's buffers, windows and streams on stderr.
  static const bool debug = getenv("MESHGATE_ENGINE_DEBUG") != nullptr;
  if (debug && now / 1000 != lastDebugSec_) {
    lastDebugSec_ = now / 1000;
    fprintf(stderr, "engine[%s %u]: rx=%zu tx=%zu pending=%zu wantR=%d wantW=%d connRemote=%d connLocal=%d\n",
            server_ ? "srv" : "cli", id_, rx_.size() - rxHead_, tx_.size(), writesPending_,
            h2_ ? nghttp2_session_want_read(h2_) : -1, h2_ ? nghttp2_session_want_write(h2_) : -1,
            h2_ ? nghttp2_session_get_remote_window_size(h2_) : -1, h2_ ? nghttp2_session_get_local_window_size(h2_) : -1);
    for (auto& e : streams_) {
      Stream* st = e.second.get();
      fprintf(stderr, "  stream %d out=%zu end=%d deferred=%d remoteWin=%d localWin=%d splice=%d\n", st->id, st->outBytes, st->outEnd, st->deferred,
              h2_ ? nghttp2_session_get_stream_remote_window_size(h2_, st->id) : -1,
              h2_ ? nghttp2_session_get_stream_local_window_size(h2_, st->id) : -1, st->splice ? 1 : 0);
    }
  }
  const Settings& s = settings();
  if (!handshakeDone_ || (!server_ && !handshakeAnnounced_)) {
    if (now - startedMs_ >= s.handshakeTimeoutMs) Kill(1, 0, "handshake timeout");
    return;
  }
  if (s.keepAliveMs > 0) {
    if (pingSentAtNs_ != 0) {
      // A PING ACK queues behind the DATA the peer sent before it: while bytes keep arriving the
      // peer is alive, however late its answer. Dead means silent for the whole timeout.
      if ((uv_hrtime() - pingSentAtNs_) / 1000000 >= s.keepAliveTimeoutMs && now - lastRecvMs_ >= s.keepAliveTimeoutMs) {
        Kill(1, 0, "keep-alive PING unanswered for " + std::to_string(s.keepAliveTimeoutMs) + " ms, and nothing else read from the peer meanwhile");
        return;
      }
    } else if (now - lastRecvMs_ >= s.keepAliveMs) {
      SendPing();
    }
  }
  if (finalGoawayAtMs_ != 0 && now >= finalGoawayAtMs_) {
    finalGoawayAtMs_ = 0;
    nghttp2_submit_goaway(h2_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(h2_), NGHTTP2_NO_ERROR, nullptr, 0);
    MarkDirty();
  }
  if (closeWhenIdle_) MarkDirty();
}

void Session::SendPing() {
  if (h2_ == nullptr || pingSentAtNs_ != 0) return;
  pingSentAtNs_ = uv_hrtime();
  uint8_t opaque[8];
  memcpy(opaque, &pingSentAtNs_, 8);
  nghttp2_submit_ping(h2_, NGHTTP2_FLAG_NONE, opaque);
  MarkDirty();
}

void Session::Queue(Event&& ev) {
  engine_->Push(std::move(ev));
}

Stream* Session::FindStream(int32_t sid) {
  auto it = streams_.find(sid);
  return it == streams_.end() ? nullptr : it->second.get();
}

uint32_t Session::streamsLeft() const {
  if (h2_ == nullptr || goingAway_ || dead_) return 0;
  uint32_t limit = nghttp2_session_get_remote_settings(h2_, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
  return limit > ownOpen_ ? limit - ownOpen_ : 0;
}

int32_t Session::Submit(const std::vector<std::string>& headers, bool endStream, int32_t respondTo) {
  std::vector<nghttp2_nv> nva = MakeNv(headers);
  nghttp2_data_provider prd;
  prd.read_callback = ReadBody;
  if (respondTo >= 0) {
    Stream* s = FindStream(respondTo);
    if (s == nullptr) return -1;
    prd.source.ptr = s;
    s->hasProvider = !endStream;
    int rv = nghttp2_submit_response(h2_, respondTo, nva.data(), nva.size(), endStream ? nullptr : &prd);
    MarkDirty();
    return rv == 0 ? respondTo : -1;
  }
  auto stream = std::make_unique<Stream>();
  stream->session = this;
  stream->hasProvider = !endStream;
  prd.source.ptr = stream.get();
  int32_t sid = nghttp2_submit_request(h2_, nullptr, nva.data(), nva.size(), endStream ? nullptr : &prd, stream.get());
  if (sid < 0) return -1;
  stream->id = sid;
  streams_[sid] = std::move(stream);
  ++ownOpen_;
  MarkDirty();
  return sid;
}

int32_t Session::RequestRelay(const std::vector<std::string>& headers, bool endStream, StreamRelay* relay) {
  if (!ready() || streamsLeft() == 0) return -1;
  int32_t sid = Submit(headers, endStream, -1);
  Stream* s = sid < 0 ? nullptr : FindStream(sid);
  if (s == nullptr) return -1;
  s->relay = relay;
  s->jsKnows = false;
  return sid;
}

void Session::DetachRelay(int32_t sid, StreamRelay* relay, int64_t h2code) {
  Stream* s = FindStream(sid);
  if (s == nullptr || s->relay != relay) return;
  s->relay = nullptr;
  s->dropBody = true;
  if (h2code >= 0 && h2_ != nullptr) {
    nghttp2_submit_rst_stream(h2_, NGHTTP2_FLAG_NONE, sid, static_cast<uint32_t>(h2code));
    MarkDirty();
  }
}

int32_t Session::Request(const std::vector<std::string>& headers, bool endStream) {
  if (streamsLeft() == 0) {
    if (!goingAway_) wasAtLimit_ = true;
    return goingAway_ ? -1 : -2;
  }
  return Submit(headers, endStream, -1);
}

void Session::Respond(int32_t sid, const std::vector<std::string>& headers, bool endStream) {
  Submit(headers, endStream, sid);
}

bool Session::Write(int32_t sid, std::vector<std::vector<uint8_t>>&& chunks, bool end,
                    std::vector<std::string>&& trailers) {
  Stream* s = FindStream(sid);
  if (s == nullptr || !s->hasProvider) return true;
  for (auto& c : chunks) {
    if (c.empty()) continue;
    s->outBytes += c.size();
    s->out.push_back(std::move(c));
  }
  if (end) {
    s->outEnd = true;
    s->trailers = std::move(trailers);
  }
  StreamIoChanged(s);
  bool below = s->outBytes < settings().sendHighWater;
  if (!below) s->drainWanted = true;
  return below;
}

void Session::StreamIoChanged(Stream* s) {
  if (s->deferred && h2_ != nullptr) {
    s->deferred = false;
    nghttp2_session_resume_data(h2_, s->id);
  }
  MarkDirty();
}

void Session::ConsumeStream(int32_t sid, size_t len) {
  if (h2_ == nullptr || dead_ || len == 0) return;
  nghttp2_session_consume_stream(h2_, sid, len);
  MarkDirty();
}

void Session::DataDelivered(int32_t sid, size_t len, bool wantMore) {
  Stream* s = FindStream(sid);
  if (s == nullptr) return;
  if (wantMore && !s->readPaused) {
    ConsumeStream(sid, len);
  } else {
    s->readPaused = true;
    s->unconsumed += len;
  }
}

void Session::ResumeRead(int32_t sid) {
  Stream* s = FindStream(sid);
  if (s == nullptr) return;
  s->readPaused = false;
  size_t n = s->unconsumed;
  s->unconsumed = 0;
  ConsumeStream(sid, n);
}

void Session::ResetStream(int32_t sid, uint64_t jsCode) {
  if (h2_ == nullptr || FindStream(sid) == nullptr) return;
  nghttp2_submit_rst_stream(h2_, NGHTTP2_FLAG_NONE, sid, H2CodeFromJs(jsCode));
  MarkDirty();
}

void Session::Close(uint64_t jsCode, bool graceful) {
  if (dead_) return;
  if (h2_ == nullptr) {
    Kill(0x100, 1, "closed before the handshake completed");
    return;
  }
  if (!graceful) {
    nghttp2_session_terminate_session(h2_, H2CodeFromJs(jsCode));
    Flush();
    if (!dead_) Kill(jsCode == 0x100 ? 0x100 : H2CodeFromJs(jsCode), jsCode == 0x100 ? 1 : 0, "session closed");
    return;
  }
  if (goingAway_ && closeWhenIdle_) return;
  goingAway_ = true;
  closeWhenIdle_ = true;
  if (server_) {
    // RFC 9113 §6.8: a shutdown notice first, the final GOAWAY (with the last stream id) after
    // in-flight requests have had a chance to arrive.
    nghttp2_submit_shutdown_notice(h2_);
    finalGoawayAtMs_ = Engine::NowMs() + kFinalGoawayDelayMs;
  } else {
    nghttp2_submit_goaway(h2_, NGHTTP2_FLAG_NONE, nghttp2_session_get_last_proc_stream_id(h2_), NGHTTP2_NO_ERROR, nullptr, 0);
  }
  MarkDirty();
}

void Session::Kill(uint32_t code, int type, const std::string& reason) {
  if (dead_) return;
  dead_ = true;
  for (auto& entry : streams_) {
    if (entry.second->splice) entry.second->splice.release()->OnStreamClosed(NGHTTP2_CANCEL, true);
    if (StreamRelay* relay = entry.second->relay) {
      entry.second->relay = nullptr;
      relay->OnRelayClosed(NGHTTP2_CANCEL, true);
    }
  }
  streams_.clear();
  Queue(Event{kEventClose, id_, -1, code, type, {reason}, {}});
  uv_close(reinterpret_cast<uv_handle_t*>(&tcp_), [](uv_handle_t* h) {
    auto* self = static_cast<Session*>(h->data);
    if (--self->handles_ == 0) self->engine_->SessionHandlesClosed(self);
  });
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), [](uv_handle_t* h) {
    auto* self = static_cast<Session*>(h->data);
    if (--self->handles_ == 0) self->engine_->SessionHandlesClosed(self);
  });
}

void Session::SetRef(bool ref) {
  if (dead_) return;
  if (ref) uv_ref(reinterpret_cast<uv_handle_t*>(&tcp_));
  else uv_unref(reinterpret_cast<uv_handle_t*>(&tcp_));
}

void Session::FillStats(Napi::Object o) const {
  Napi::Env env = o.Env();
  o.Set("smoothedRttMs", smoothedRttMs_);
  o.Set("minRttMs", minRttMs_);
  o.Set("latestRttMs", latestRttMs_);
  o.Set("cwnd", 0);
  o.Set("bytesInFlight", static_cast<double>(writesPending_ + tx_.size()));
  o.Set("bytesSent", static_cast<double>(bytesSent_));
  o.Set("bytesReceived", static_cast<double>(bytesReceived_));
  o.Set("packetsSent", 0);
  o.Set("packetsReceived", 0);
  o.Set("lostStreamPackets", 0);
  o.Set("ptoCount", 0);
  o.Set("openStreams", static_cast<double>(streams_.size()));
  o.Set("streamsBidiLeft", static_cast<double>(streamsLeft()));
  o.Set("prematureResets", static_cast<double>(prematureResets_));
  (void)env;
}

bool Session::SpliceFd(int32_t sid, int fd, std::vector<uint8_t>&& initial, uint64_t idleMs, SpliceStartMode start,
                       std::vector<uint8_t>&& toSocket, std::string* error) {
  Stream* s = FindStream(sid);
  bool fits = start == kStartNow || !server_;
  if (s == nullptr || !fits || !s->hasProvider || s->splice) {
    *error = "no open CONNECT stream " + std::to_string(sid);
    return false;
  }
  s->splice = std::make_unique<Splice>(this, s, idleMs);
  int rv = s->splice->AdoptFd(fd, std::move(initial));
  if (rv != 0) {
    *error = std::string("cannot adopt the socket: ") + uv_strerror(rv);
    s->splice.release()->OnStreamClosed(NGHTTP2_CANCEL, true);
    return false;
  }
  // Bytes JS held back (a paused reader) are the splice's now: credit them to the peer.
  s->readPaused = false;
  ConsumeStream(sid, s->unconsumed);
  s->unconsumed = 0;
  if (start == kStartOnJs) s->splice->DeferStart();
  if (start == kStartNow) s->splice->Start(std::move(toSocket));
  return true;
}

bool Session::SpliceStart(int32_t sid, std::vector<uint8_t>&& toSocket) {
  Stream* s = FindStream(sid);
  if (s == nullptr || !s->splice) return false;
  s->splice->Start(std::move(toSocket));
  return true;
}

bool Session::SpliceConnect(int32_t sid, const sockaddr* target, uint64_t connectMs, uint64_t idleMs,
                            std::string* error) {
  Stream* s = FindStream(sid);
  if (s == nullptr || !server_ || s->splice) {
    *error = "no open CONNECT stream " + std::to_string(sid);
    return false;
  }
  s->splice = std::make_unique<Splice>(this, s, idleMs);
  s->splice->ConnectTo(target, connectMs);
  return true;
}

// --- nghttp2 callbacks -------------------------------------------------------------------------

int Session::OnBeginHeaders(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  auto* self = static_cast<Session*>(user);
  if (frame->hd.type != NGHTTP2_HEADERS) return 0;
  int32_t sid = frame->hd.stream_id;
  if (self->server_ && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    auto stream = std::make_unique<Stream>();
    stream->id = sid;
    stream->session = self;
    stream->openedAtMs = Engine::NowMs();
    nghttp2_session_set_stream_user_data(self->h2_, sid, stream.get());
    self->streams_[sid] = std::move(stream);
    ++self->peerStreamsOpened_;
  }
  Stream* s = self->FindStream(sid);
  if (s != nullptr) {
    s->headers.clear();
    s->headerBytes = 0;
  }
  return 0;
}

int Session::OnHeader(nghttp2_session*, const nghttp2_frame* frame, const uint8_t* name, size_t namelen,
                      const uint8_t* value, size_t valuelen, uint8_t, void* user) {
  auto* self = static_cast<Session*>(user);
  Stream* s = self->FindStream(frame->hd.stream_id);
  if (s == nullptr) return 0;
  s->headerBytes += namelen + valuelen + 32;  // RFC 9113 §6.5.2: the size counts 32 per field
  if (s->headerBytes > self->settings().maxHeaderListBytes) {
    s->headersTooLarge = true;
    return 0;
  }
  if (s->headers.capacity() == 0) s->headers.reserve(kFieldsReserved);
  s->headers.emplace_back(reinterpret_cast<const char*>(name), namelen);
  s->headers.emplace_back(reinterpret_cast<const char*>(value), valuelen);
  return 0;
}

namespace {
const std::string* FindHeader(const std::vector<std::string>& flat, const char* name) {
  for (size_t i = 0; i + 1 < flat.size(); i += 2) {
    if (flat[i] == name) return &flat[i + 1];
  }
  return nullptr;
}
}  // namespace

int Session::OnFrameRecv(nghttp2_session*, const nghttp2_frame* frame, void* user) {
  auto* self = static_cast<Session*>(user);
  int32_t sid = frame->hd.stream_id;
  bool endStream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  switch (frame->hd.type) {
    case NGHTTP2_HEADERS: {
      Stream* s = self->FindStream(sid);
      if (s == nullptr) return 0;
      if (s->headersTooLarge) {
        if (self->server_ && s->headerSections == 0) {
          s->jsKnows = false;
          std::vector<std::string> h = {":status", "431", "meshgate-error", "E_HEADERS_TOO_LARGE",
                                        "content-length", "0"};
          self->Submit(h, true, sid);
        } else {
          nghttp2_submit_rst_stream(self->h2_, NGHTTP2_FLAG_NONE, sid, NGHTTP2_INTERNAL_ERROR);
        }
        s->headers.clear();
        return 0;
      }
      if (!endStream && s->headers.empty()) {
        if (++self->emptyFrames_ > self->settings().maxEmptyFrames) {
          self->closeReason_ = "flood: HEADERS frames with no fields";
          nghttp2_session_terminate_session(self->h2_, NGHTTP2_ENHANCE_YOUR_CALM);
          return 0;
        }
      } else {
        self->emptyFrames_ = 0;  // a frame with a payload: the empty ones are no longer in a row
      }
      const std::string* status = FindHeader(s->headers, ":status");
      bool informational = status != nullptr && !status->empty() && (*status)[0] == '1';
      bool trailers = !informational && s->headerSections > 0;
      if (!informational) ++s->headerSections;
      int32_t flag = (trailers ? 1 : 0) | (endStream ? 2 : 0);
      if (s->splice && !informational && !trailers && !self->server_) {
        if (status != nullptr && status->size() == 3 && (*status)[0] == '2') {
          if (!s->splice->deferStart()) s->splice->Start();
        }
        else s->splice->RefusedByPeer(status == nullptr ? "" : *status);
      }
      if (self->server_ && !informational && !trailers && !self->nativeTargets_.empty() && s->relay == nullptr &&
          !s->splice && s->jsKnows && self->StartDelivery(s, endStream)) {
        return 0;
      }
      if (s->relay != nullptr) s->relay->OnRelayHeaders(std::move(s->headers), informational, trailers);
      else if (s->jsKnows && !s->dropBody) self->Queue(Event{kEventHeaders, self->id_, sid, 0, flag, std::move(s->headers), {}});
      s->headers.clear();
      if (endStream) {
        if (s->relay != nullptr) s->relay->OnRelayEnd();
        else if (s->splice) s->splice->OnPeerEnd();
        else if (s->jsKnows && !s->dropBody) self->Queue(Event{kEventEnd, self->id_, sid, 0, 0, {}, {}});
      }
      return 0;
    }
    case NGHTTP2_DATA: {
      if (frame->hd.length == 0 && !endStream) {
        if (++self->emptyFrames_ > self->settings().maxEmptyFrames) {
          self->closeReason_ = "flood: empty DATA frames";
          nghttp2_session_terminate_session(self->h2_, NGHTTP2_ENHANCE_YOUR_CALM);
        }
        return 0;
      }
      self->emptyFrames_ = 0;
      if (!endStream) return 0;
      Stream* s = self->FindStream(sid);
      if (s == nullptr) return 0;
      if (s->relay != nullptr) s->relay->OnRelayEnd();
      else if (s->splice) s->splice->OnPeerEnd();
      else if (s->jsKnows && !s->dropBody) self->Queue(Event{kEventEnd, self->id_, sid, 0, 0, {}, {}});
      return 0;
    }
    case NGHTTP2_SETTINGS:
      if ((frame->hd.flags & NGHTTP2_FLAG_ACK) != 0) return 0;
      if (!self->server_ && !self->handshakeAnnounced_) {
        self->handshakeAnnounced_ = true;
        self->Queue(Event{kEventHandshake, self->id_, -1, 0, 0, {self->check_.peerIdentity, self->alpn_}, {}});
        self->SendPing();  // a first RTT sample
      } else if (self->wasAtLimit_ && self->streamsLeft() > 0) {
        self->wasAtLimit_ = false;
        self->Queue(Event{kEventStreamsAvailable, self->id_, -1, 0, 0, {}, {}});
      }
      return 0;
    case NGHTTP2_PING:
      if ((frame->hd.flags & NGHTTP2_FLAG_ACK) != 0 && self->pingSentAtNs_ != 0) {
        double rtt = static_cast<double>(uv_hrtime() - self->pingSentAtNs_) / 1e6;
        self->pingSentAtNs_ = 0;
        self->latestRttMs_ = rtt;
        self->minRttMs_ = self->minRttMs_ == 0 ? rtt : std::min(self->minRttMs_, rtt);
        self->smoothedRttMs_ = self->smoothedRttMs_ == 0 ? rtt : (self->smoothedRttMs_ * 7 + rtt) / 8;
      }
      return 0;
    case NGHTTP2_GOAWAY:
      self->goingAway_ = true;
      self->Queue(Event{kEventGoaway, self->id_, -1, static_cast<uint64_t>(frame->goaway.last_stream_id), 0, {}, {}});
      return 0;
    case NGHTTP2_RST_STREAM: {
      Stream* s = self->FindStream(sid);
      if (s == nullptr) return 0;
      self->NoteStreamReset(s);
      if (s->jsKnows && !s->splice) {
        self->Queue(Event{kEventReset, self->id_, sid, JsCodeFromH2(frame->rst_stream.error_code), 0, {}, {}});
      }
      return 0;
    }
    default:
      return 0;
  }
}

void Session::AllowTarget(const std::string& target, std::shared_ptr<NativeTarget> grant) {
  nativeTargets_[target] = std::move(grant);
}

bool Session::StartDelivery(Stream* s, bool endStream) {
  const std::string* target = FindHeader(s->headers, "meshgate-target");
  if (target == nullptr) return false;
  auto it = nativeTargets_.find(*target);
  if (it == nativeTargets_.end()) return false;
  const NativeTarget& grant = *it->second;
  const std::string* method = FindHeader(s->headers, ":method");
  if (method == nullptr || *method == "CONNECT" || FindHeader(s->headers, ":protocol") != nullptr) return false;
  bool h2c = grant.http2;
  if (grant.autoProtocol) {
    const std::string* orig = FindHeader(s->headers, "meshgate-orig-proto");
    h2c = orig == nullptr || strcasecmp(orig->c_str(), "HTTP/1.1") != 0;
  }
  if (h2c) {
    auto* delivery = new H2cDelivery(this, s->id, engine_->H2cPoolFor(grant));
    if (!delivery->Prepare(s->headers, endStream, check_.peerIdentity)) {
      delete delivery;
      return false;
    }
    s->relay = delivery;
    s->jsKnows = false;
    s->headers.clear();
    delivery->Start();
    if (endStream && s->relay == delivery) delivery->OnRelayEnd();
    return true;
  }
  auto* exchange = new WorkloadExchange(this, s->id, engine_->PoolFor(grant));
  if (!exchange->Prepare(s->headers, endStream, check_.peerIdentity)) {
    delete exchange;
    return false;
  }
  s->relay = exchange;
  s->jsKnows = false;
  s->headers.clear();
  exchange->Start();
  if (endStream && s->relay == exchange) exchange->OnRelayEnd();
  return true;
}

// Envoy's premature-reset rule against rapid reset (CVE-2023-44487).
void Session::NoteStreamReset(Stream* s) {
  if (!server_ || s->openedAtMs == 0) return;
  // A reset after the whole response went out is a caller dropping the rest of its own request
  // (RFC 9113 §8.1: the meshgate outbound does so after an early answer), not an abuse.
  if (nghttp2_session_get_stream_local_close(h2_, s->id) == 1) return;
  const Settings& cfg = settings();
  if (Engine::NowMs() - s->openedAtMs < cfg.prematureResetMs) ++prematureResets_;
  if (peerStreamsOpened_ >= cfg.prematureResetMinStreams && prematureResets_ * 2 > peerStreamsOpened_ &&
      closeReason_.empty()) {
    closeReason_ = "premature resets: " + std::to_string(prematureResets_) + " of " +
                   std::to_string(peerStreamsOpened_) + " streams reset by the peer within " +
                   std::to_string(cfg.prematureResetMs) + " ms of opening";
    nghttp2_session_terminate_session(h2_, NGHTTP2_ENHANCE_YOUR_CALM);
  }
}

int Session::OnDataChunk(nghttp2_session*, uint8_t, int32_t sid, const uint8_t* data, size_t len, void* user) {
  auto* self = static_cast<Session*>(user);
  // The connection window is credited at once, so one slow reader never stalls other streams;
  // each stream's own window is credited as its bytes are taken (below, or by the splice).
  nghttp2_session_consume_connection(self->h2_, len);
  Stream* s = self->FindStream(sid);
  if (s != nullptr && s->relay != nullptr) {
    s->relay->OnRelayData(data, len);
    return 0;
  }
  if (s == nullptr || !s->jsKnows || s->dropBody) {
    nghttp2_session_consume_stream(self->h2_, sid, len);
    return 0;
  }
  if (s->splice) {
    s->splice->OnPeerData(data, len);
    return 0;
  }
  std::vector<Event>& queued = self->engine_->events();
  if (!queued.empty()) {
    Event& last = queued.back();
    if (last.kind == kEventData && last.conn == self->id_ && last.stream == sid) {
      last.data.insert(last.data.end(), data, data + len);
      return 0;
    }
  }
  Event ev{kEventData, self->id_, sid, 0, 0, {}, {}};
  ev.data.assign(data, data + len);
  self->Queue(std::move(ev));
  return 0;
}

int Session::OnStreamClose(nghttp2_session*, int32_t sid, uint32_t code, void* user) {
  auto* self = static_cast<Session*>(user);
  auto it = self->streams_.find(sid);
  if (it == self->streams_.end()) return 0;
  std::unique_ptr<Stream> s = std::move(it->second);
  self->streams_.erase(it);
  bool own = self->server_ ? (sid % 2 == 0) : (sid % 2 == 1);
  if (own && self->ownOpen_ > 0) --self->ownOpen_;
  if (s->splice) s->splice.release()->OnStreamClosed(code, false);
  if (StreamRelay* relay = s->relay) {
    s->relay = nullptr;
    relay->OnRelayClosed(code, false);
  }
  if (s->jsKnows) self->Queue(Event{kEventStreamClose, self->id_, sid, JsCodeFromH2(code), 0, {}, {}});
  if (own && self->wasAtLimit_ && self->streamsLeft() > 0) {
    self->wasAtLimit_ = false;
    self->Queue(Event{kEventStreamsAvailable, self->id_, -1, 0, 0, {}, {}});
  }
  if (self->closeWhenIdle_ && self->streams_.empty()) self->MarkDirty();
  return 0;
}

int Session::OnInvalidFrame(nghttp2_session*, const nghttp2_frame*, int, void*) {
  return 0;  // nghttp2 answers protocol errors itself (RST_STREAM or GOAWAY)
}

size_t TakeQueued(ChunkQueue& queue, size_t& head, uint8_t* buf, size_t length) {
  size_t copied = 0;
  while (copied < length && !queue.empty()) {
    std::vector<uint8_t>& front = queue.front();
    size_t n = std::min(length - copied, front.size() - head);
    memcpy(buf + copied, front.data() + head, n);
    copied += n;
    head += n;
    if (head == front.size()) {
      queue.pop_front();
      head = 0;
    }
  }
  return copied;
}

ssize_t Session::ReadBody(nghttp2_session*, int32_t sid, uint8_t* buf, size_t length, uint32_t* flags,
                          nghttp2_data_source* source, void* user) {
  auto* self = static_cast<Session*>(user);
  auto* s = static_cast<Stream*>(source->ptr);
  size_t copied = TakeQueued(s->out, s->outHead, buf, length);
  s->outBytes -= copied;
  if (s->drainWanted && s->outBytes <= self->settings().sendHighWater / 2) {
    s->drainWanted = false;
    self->Queue(Event{kEventDrain, self->id_, sid, 0, 0, {}, {}});
  }
  if (s->splice) s->splice->OnBodyTaken();
  if (s->relay != nullptr) s->relay->OnRelayBodyTaken();
  if (s->outBytes == 0 && s->outEnd) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (!s->trailers.empty()) {
      *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      std::vector<nghttp2_nv> nva = MakeNv(s->trailers);
      nghttp2_submit_trailer(self->h2_, sid, nva.data(), nva.size());
    }
    return static_cast<ssize_t>(copied);
  }
  if (copied == 0) {
    s->deferred = true;
    return NGHTTP2_ERR_DEFERRED;
  }
  return static_cast<ssize_t>(copied);
}

}  // namespace engine
}  // namespace meshgate
