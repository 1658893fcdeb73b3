// The UDP endpoint: socket set-up on the Node loop, datagram routing by connection ID
// (RFC 9000 §5.2), batched sends with UDP GSO, the pump that turns dirty connections into
// packets and queued events into JS calls, and the JS-facing methods.
#include "endpoint.h"
#include "napi-args.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <gnutls/crypto.h>
#include <netinet/in.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <fcntl.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif

namespace meshgate {

namespace {

socklen_t SockLen(const sockaddr* addr) {
  return addr->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
}

bool ParseAddress(const std::string& host, int port, sockaddr_storage* out) {
  memset(out, 0, sizeof(*out));
  if (uv_ip4_addr(host.c_str(), port, reinterpret_cast<sockaddr_in*>(out)) == 0) return true;
  return uv_ip6_addr(host.c_str(), port, reinterpret_cast<sockaddr_in6*>(out)) == 0;
}

std::string GetString(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
}

uint64_t GetNumber(const Napi::Object& o, const char* key, uint64_t fallback) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? static_cast<uint64_t>(v.As<Napi::Number>().DoubleValue()) : fallback;
}

bool GetBool(const Napi::Object& o, const char* key, bool fallback) {
  Napi::Value v = o.Get(key);
  return v.IsBoolean() ? v.As<Napi::Boolean>().Value() : fallback;
}

std::vector<std::string> GetStrings(const Napi::Value& v) {
  std::vector<std::string> out;
  if (!v.IsArray()) return out;
  Napi::Array a = v.As<Napi::Array>();
  uint32_t n = a.Length();
  out.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    Napi::Value item = a.Get(i);
    out.push_back(item.IsString() ? item.As<Napi::String>().Utf8Value() : item.ToString().Utf8Value());
  }
  return out;
}

Napi::Value Fail(Napi::Env env, const std::string& message) {
  Napi::Error::New(env, message).ThrowAsJavaScriptException();
  return env.Undefined();
}

struct QueuedSend {
  uv_udp_send_t req;
  sockaddr_storage addr;
  std::vector<uint8_t> bytes;
  Endpoint* endpoint;
};

}  // namespace

// new Endpoint(options, emit): binds the UDP socket and loads the TLS credentials.
Endpoint::Endpoint(const Napi::CallbackInfo& info, EndpointWrap* wrap) : env_(info.Env()), wrap_(wrap) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction()) {
    initError_ = "new Endpoint(options, emit)";
    return;
  }
  Napi::Object o = info[0].As<Napi::Object>();
  emit_ = Napi::Persistent(info[1].As<Napi::Function>());
  async_ = std::make_unique<Napi::AsyncContext>(env, "meshgate:quic");
  server_ = GetBool(o, "server", false);
  settings_.maxStreamsBidi = GetNumber(o, "maxStreams", settings_.maxStreamsBidi);
  settings_.idleTimeoutMs = GetNumber(o, "idleTimeoutMs", settings_.idleTimeoutMs);
  settings_.keepAliveMs = GetNumber(o, "keepAliveMs", settings_.keepAliveMs);
  settings_.peerSilenceMs = GetNumber(o, "peerSilenceMs", settings_.peerSilenceMs);
  settings_.handshakeTimeoutMs = GetNumber(o, "handshakeTimeoutMs", settings_.handshakeTimeoutMs);
  settings_.maxStreamData = GetNumber(o, "maxStreamData", settings_.maxStreamData);
  settings_.maxData = GetNumber(o, "maxData", settings_.maxData);
  settings_.sendHighWater = GetNumber(o, "sendHighWater", settings_.sendHighWater);
  settings_.debug = GetBool(o, "debug", false);
  std::string cc = GetString(o, "cc");
  if (cc == "reno") settings_.cc = NGTCP2_CC_ALGO_RENO;
  else if (cc == "bbr") settings_.cc = NGTCP2_CC_ALGO_BBR;
  else if (cc == "bbr2") settings_.cc = NGTCP2_CC_ALGO_BBR2;

  TlsOptions tlsOptions;
  tlsOptions.server = server_;
  tlsOptions.ca = GetString(o, "ca");
  tlsOptions.cert = GetString(o, "cert");
  tlsOptions.key = GetString(o, "key");
  std::string alpn = GetString(o, "alpn");
  if (!alpn.empty()) tlsOptions.alpn = alpn;
  tlsOptions.requirePeerCert = GetBool(o, "requireClientCert", true);
  if (tlsOptions.key.empty()) {
    gnutls_rnd(GNUTLS_RND_KEY, resetSecret_, kResetSecretLen);
  } else {
    std::string input = "meshgate stateless reset v1\n" + tlsOptions.key;
    gnutls_hash_fast(GNUTLS_DIG_SHA256, input.data(), input.size(), resetSecret_);
  }
  std::string error;
  tls_ = TlsContext::Create(tlsOptions, &error);
  if (!tls_) {
    initError_ = "TLS: " + error;
    return;
  }

  sockaddr_storage bindAddr;
  std::string host = GetString(o, "host");
  if (host.empty()) host = "127.0.0.1";
  if (!ParseAddress(host, static_cast<int>(GetNumber(o, "port", 0)), &bindAddr)) {
    initError_ = "host must be an IP address: " + host;
    return;
  }
  napi_get_uv_event_loop(env, &loop_);
  rxbuf_.reset(new uint8_t[kRxBuffer]);  // default-initialised: no page touched yet
  txbuf_.reset(new uint8_t[kTxBuffer]);
  int family = bindAddr.ss_family;
  int rv = uv_udp_init_ex(loop_, &udp_, static_cast<unsigned>(family) | UV_UDP_RECVMMSG);
  if (rv != 0) {
    initError_ = std::string("udp init: ") + uv_strerror(rv);
    return;
  }
  udp_.data = this;
  uv_idle_init(loop_, &idle_);
  idle_.data = this;
  uv_check_init(loop_, &check_);
  check_.data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(&idle_));
  uv_unref(reinterpret_cast<uv_handle_t*>(&check_));
  openHandles_ = 3;
  self_ = Napi::Persistent(info.This().As<Napi::Object>());  // released when the last handle closed
  rv = uv_udp_bind(&udp_, reinterpret_cast<sockaddr*>(&bindAddr), 0);
  if (rv != 0) {
    initError_ = "bind " + host + ": " + uv_strerror(rv);
    return;
  }
  int size = static_cast<int>(GetNumber(o, "recvBufferSize", 4 * 1024 * 1024));
  uv_recv_buffer_size(reinterpret_cast<uv_handle_t*>(&udp_), &size);
  size = static_cast<int>(GetNumber(o, "sendBufferSize", 4 * 1024 * 1024));
  uv_send_buffer_size(reinterpret_cast<uv_handle_t*>(&udp_), &size);
  int namelen = sizeof(local_);
  uv_udp_getsockname(&udp_, reinterpret_cast<sockaddr*>(&local_), &namelen);
  localLen_ = static_cast<socklen_t>(namelen);
  rv = StartGroReceive() ? 0 : uv_udp_recv_start(&udp_, OnAlloc, OnRecv);
  if (rv != 0) {
    initError_ = std::string("udp recv: ") + uv_strerror(rv);
    return;
  }
  uv_check_start(&check_, OnCheckHandle);
}

Endpoint::~Endpoint() {
  if (teardown_) {
    // The environment is going away: its references are no longer ours to delete.
    emit_.SuppressDestruct();
    self_.SuppressDestruct();
    async_.release();
  }
}

void Endpoint::WrapperGone() {
  wrap_ = nullptr;
  teardown_ = true;
  if (!closed_) Shutdown();
  // The wrapper's finalizer runs while the environment still exists (self_ keeps the wrapper
  // alive until its teardown); the endpoint is deleted only once its handles have closed, maybe
  // after the environment is gone. Let go of the JS references now (LeakSanitizer found them).
  emit_.Reset();
  self_.Reset();
  async_.reset();
}

bool Endpoint::StartGroReceive() {
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(&udp_), &fd) != 0) return false;
  int on = 1;
  if (setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof(on)) != 0) return false;  // old kernel: libuv reads
  groFd_ = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (groFd_ < 0 || uv_poll_init_socket(loop_, &groPoll_, groFd_) != 0) {
    if (groFd_ >= 0) close(groFd_);
    groFd_ = -1;
    on = 0;
    setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof(on));
    return false;
  }
  groPoll_.data = this;
  ++openHandles_;
  if (uv_poll_start(&groPoll_, UV_READABLE, OnGroReadable) != 0) {
    // The idle poll handle is closed by Shutdown with the others; libuv reads, without GRO.
    on = 0;
    setsockopt(fd, SOL_UDP, UDP_GRO, &on, sizeof(on));
    return false;
  }
  return true;
}

void Endpoint::OnGroReadable(uv_poll_t* handle, int status, int) {
  if (status < 0) return;
  static_cast<Endpoint*>(handle->data)->ReadGro();
}

void Endpoint::ReadGro() {
  mmsghdr msgs[kRxSlots];
  iovec iov[kRxSlots];
  sockaddr_storage addrs[kRxSlots];
  alignas(cmsghdr) char control[kRxSlots][CMSG_SPACE(sizeof(int))];
  // As libuv does per readiness: a bounded number of reads, so a flood cannot starve the loop
  // (the pump and timers run between turns; level-triggered poll brings us back).
  for (int round = 0; round < 4 && !closed_; ++round) {
    for (size_t i = 0; i < kRxSlots; ++i) {
      iov[i] = {rxbuf_.get() + i * kRxSlot, kRxSlot};
      memset(&msgs[i], 0, sizeof(msgs[i]));
      msgs[i].msg_hdr.msg_name = &addrs[i];
      msgs[i].msg_hdr.msg_namelen = sizeof(addrs[i]);
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
      msgs[i].msg_hdr.msg_control = control[i];
      msgs[i].msg_hdr.msg_controllen = sizeof(control[i]);
    }
    int n;
    do {
      n = recvmmsg(groFd_, msgs, kRxSlots, MSG_DONTWAIT, nullptr);
    } while (n < 0 && errno == EINTR);
    if (n <= 0) return;  // EAGAIN (drained) or an error the next datagram will show again
    for (int i = 0; i < n && !closed_; ++i) {
      const msghdr& h = msgs[i].msg_hdr;
      if ((h.msg_flags & MSG_TRUNC) != 0 || h.msg_namelen == 0) continue;
      size_t len = msgs[i].msg_len;
      size_t segment = len;
      for (cmsghdr* cm = CMSG_FIRSTHDR(&h); cm != nullptr; cm = CMSG_NXTHDR(const_cast<msghdr*>(&h), cm)) {
        if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO) {
          int gso = 0;
          memcpy(&gso, CMSG_DATA(cm), sizeof(gso));
          if (gso > 0) segment = static_cast<size_t>(gso);
        }
      }
      const uint8_t* data = reinterpret_cast<const uint8_t*>(iov[i].iov_base);
      const sockaddr* addr = reinterpret_cast<const sockaddr*>(&addrs[i]);
      // Every datagram of a GRO train is `segment` bytes except maybe the last.
      for (size_t off = 0; off < len && !closed_; off += segment) {
        OnDatagram(data + off, std::min(segment, len - off), addr);
      }
    }
    if (static_cast<size_t>(n) < kRxSlots) return;
  }
}

void Endpoint::OnAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* self = static_cast<Endpoint*>(handle->data);
  // With UV_UDP_RECVMMSG, libuv splits this buffer into 64 KB slots and reads up to 20
  // datagrams with one recvmmsg(2).
  buf->base = reinterpret_cast<char*>(self->rxbuf_.get());
  buf->len = kRxBuffer;
}

void Endpoint::OnRecv(uv_udp_t* handle, ssize_t nread, const uv_buf_t* buf, const sockaddr* addr,
                      unsigned flags) {
  if ((flags & UV_UDP_MMSG_FREE) != 0 || nread <= 0 || addr == nullptr) return;
  auto* self = static_cast<Endpoint*>(handle->data);
  self->OnDatagram(reinterpret_cast<const uint8_t*>(buf->base), static_cast<size_t>(nread), addr);
}

void Endpoint::OnDatagram(const uint8_t* data, size_t len, const sockaddr* addr) {
  if (closed_) return;
  ngtcp2_version_cid vc;
  int rv = ngtcp2_pkt_decode_version_cid(&vc, data, len, kCidLen);
  if (rv == NGTCP2_ERR_VERSION_NEGOTIATION) {
    SendVersionNegotiation(vc, addr, len);
    return;
  }
  if (rv != 0) return;  // not QUIC: dropped
  ngtcp2_path path = {{reinterpret_cast<sockaddr*>(&local_), localLen_},
                      {const_cast<sockaddr*>(addr), SockLen(addr)}, nullptr};
  auto it = cids_.find(CidKey(vc.dcid, vc.dcidlen));
  if (it != cids_.end()) {
    it->second->OnDatagram(path, data, len);
    return;
  }
  if ((data[0] & 0x80) == 0) {
    if (server_) {
      SendStatelessReset(vc, addr, len);
    } else if (len >= 1 + NGTCP2_MIN_STATELESS_RESET_RANDLEN + NGTCP2_STATELESS_RESET_TOKENLEN) {
      // RFC 9000 §10.3.1: a packet we cannot route may be a stateless reset: its last 16 bytes
      // are then the token the peer gave for one of the connection IDs we send to. (Clients
      // only: an endpoint of that kind carries few connections, so the scan is cheap.)
      const uint8_t* token = data + len - NGTCP2_STATELESS_RESET_TOKENLEN;
      for (auto& entry : conns_) {
        if (entry.second->MatchesResetToken(token)) {
          entry.second->OnStatelessReset();
          break;
        }
      }
    }
    return;
  }
  if (!server_ || closing_) return;
  ngtcp2_pkt_hd hd;
  if (ngtcp2_accept(&hd, data, len) != 0) return;
  uint32_t id = nextConnId_++;
  auto* conn = new Connection(this, id, true);
  ++openHandles_;
  conns_[id] = conn;
  std::string error;
  if (conn->InitServer(hd, reinterpret_cast<sockaddr*>(&local_), localLen_, addr, SockLen(addr), &error) != 0) {
    conn->closeEmitted_ = true;
    conn->state_ = Connection::kDead;
    MarkDirty(conn);
    return;
  }
  conn->OnDatagram(path, data, len);
}

// RFC 9000 §6.1: a server answers a client Initial of a version it does not speak with the
// versions it does, echoing the connection IDs swapped; never for datagrams under 1200 bytes.
void Endpoint::SendVersionNegotiation(const ngtcp2_version_cid& vc, const sockaddr* addr, size_t len) {
  if (!server_ || closing_ || len < 1200) return;
  uint8_t buf[256];
  uint8_t unused;
  gnutls_rnd(GNUTLS_RND_NONCE, &unused, 1);
  const uint32_t versions[] = {NGTCP2_PROTO_VER_V1};
  ngtcp2_ssize n = ngtcp2_pkt_write_version_negotiation(buf, sizeof(buf), unused, vc.scid, vc.scidlen,
                                                        vc.dcid, vc.dcidlen, versions, 1);
  if (n > 0 && !sendBlocked_) Send(addr, SockLen(addr), buf, static_cast<size_t>(n), static_cast<size_t>(n));
}

// RFC 9000 §10.3: a short-header packet for a connection we do not have (we restarted, or it
// was reaped) is answered with a stateless reset, smaller than the packet that triggered it so
// two endpoints can never loop, and never for packets too small to hide a reset in.
void Endpoint::SendStatelessReset(const ngtcp2_version_cid& vc, const sockaddr* addr, size_t len) {
  if (!server_ || vc.dcidlen != kCidLen || len < 43 || sendBlocked_) return;
  ngtcp2_cid cid;
  ngtcp2_cid_init(&cid, vc.dcid, vc.dcidlen);
  uint8_t token[NGTCP2_STATELESS_RESET_TOKENLEN];
  if (ngtcp2_crypto_generate_stateless_reset_token(token, resetSecret_, kResetSecretLen, &cid) != 0) return;
  // One byte shorter than what came in: first byte, random bytes, token.
  size_t size = std::min<size_t>(len - 1, 64);
  uint8_t rand[64];
  size_t randlen = size - 1 - NGTCP2_STATELESS_RESET_TOKENLEN;
  gnutls_rnd(GNUTLS_RND_NONCE, rand, randlen);
  uint8_t buf[80];
  ngtcp2_ssize n = ngtcp2_pkt_write_stateless_reset(buf, sizeof(buf), token, rand, randlen);
  if (n > 0) Send(addr, SockLen(addr), buf, static_cast<size_t>(n), static_cast<size_t>(n));
}

bool Endpoint::Send(const sockaddr* remote, socklen_t remoteLen, const uint8_t* data,
                    size_t total, size_t segment) {
  if (closed_) return true;
  if (sendBlocked_) {
    SendQueued(remote, data, total, segment);
    return false;
  }
  uv_os_fd_t fd;
  if (uv_fileno(reinterpret_cast<uv_handle_t*>(&udp_), &fd) != 0) return true;
  if (total > segment && gso_) {
    iovec iov = {const_cast<uint8_t*>(data), total};
    char control[CMSG_SPACE(sizeof(uint16_t))];
    memset(control, 0, sizeof(control));
    msghdr msg;
    memset(&msg, 0, sizeof(msg));
    msg.msg_name = const_cast<sockaddr*>(remote);
    msg.msg_namelen = remoteLen;
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    cmsghdr* cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_UDP;
    cm->cmsg_type = UDP_SEGMENT;
    cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    uint16_t gsoSize = static_cast<uint16_t>(segment);
    memcpy(CMSG_DATA(cm), &gsoSize, sizeof(gsoSize));
    ssize_t n;
    do {
      n = sendmsg(fd, &msg, 0);
    } while (n < 0 && errno == EINTR);
    if (n >= 0) return true;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) {
      SendQueued(remote, data, total, segment);
      return false;
    }
    // No GSO here (old kernel, or the device refuses it): one datagram per packet from now on.
    gso_ = false;
  }
  for (size_t off = 0; off < total; off += segment) {
    size_t len = std::min(segment, total - off);
    ssize_t n;
    do {
      n = sendto(fd, data + off, len, 0, remote, remoteLen);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
      SendQueued(remote, data + off, total - off, segment);
      return false;
    }
    // Other errors (e.g. ECONNREFUSED from an ICMP error) count as loss; QUIC recovers.
  }
  return true;
}

// The socket is full: hand the rest to libuv, which sends when the socket is writable, and keep
// every connection quiet until it has (ordering and no busy loop).
void Endpoint::SendQueued(const sockaddr* remote, const uint8_t* data, size_t total, size_t segment) {
  sendBlocked_ = true;
  for (size_t off = 0; off < total; off += segment) {
    size_t len = std::min(segment, total - off);
    auto* q = new QueuedSend();
    q->endpoint = this;
    memcpy(&q->addr, remote, SockLen(remote));
    q->bytes.assign(data + off, data + off + len);
    q->req.data = q;
    uv_buf_t b = uv_buf_init(reinterpret_cast<char*>(q->bytes.data()), static_cast<unsigned>(len));
    if (uv_udp_send(&q->req, &udp_, &b, 1, reinterpret_cast<sockaddr*>(&q->addr), OnSendDone) != 0) {
      delete q;
      continue;
    }
    ++pendingSends_;
  }
  if (pendingSends_ == 0) sendBlocked_ = false;
}

void Endpoint::OnSendDone(uv_udp_send_t* req, int) {
  auto* q = static_cast<QueuedSend*>(req->data);
  Endpoint* self = q->endpoint;
  delete q;
  if (--self->pendingSends_ > 0) return;
  self->sendBlocked_ = false;
  if (self->closed_) return;
  for (auto& entry : self->conns_) self->MarkDirty(entry.second);
}

void Endpoint::MarkDirty(Connection* conn) {
  if (closed_) return;
  if (!conn->dirty) {
    conn->dirty = true;
    dirty_.push_back(conn);
  }
  // An active idle handle keeps the loop from blocking in poll until the pump has run.
  uv_idle_start(&idle_, OnPumpHandle);
}

void Endpoint::OnPumpHandle(uv_idle_t* handle) { static_cast<Endpoint*>(handle->data)->Pump(); }

void Endpoint::OnCheckHandle(uv_check_t* handle) {
  auto* self = static_cast<Endpoint*>(handle->data);
  if (!self->dirty_.empty() || !self->events_.empty()) self->Pump();
}

void Endpoint::Wake() {
  if (!closed_) uv_idle_start(&idle_, OnPumpHandle);
}

void Endpoint::FlushSplices() {
  std::vector<std::pair<uint32_t, int64_t>> batch;
  batch.swap(splicesToFlush_);
  for (const auto& entry : batch) {
    auto it = conns_.find(entry.first);
    if (it == conns_.end()) continue;
    Stream* s = it->second->FindStream(entry.second);
    if (s != nullptr && s->splice) s->splice->FlushToSocket();
  }
}

void Endpoint::Pump() {
  if (pumping_ || closed_) return;
  pumping_ = true;
  // Peer bytes of spliced streams from the datagrams of this turn, one socket write each.
  FlushSplices();
  for (int round = 0; round < 8 && !closed_; ++round) {
    std::vector<Connection*> dirty;
    dirty.swap(dirty_);
    for (Connection* c : dirty) {
      c->dirty = false;
      if (!c->dead()) c->WritePackets();
    }
    if (!events_.empty()) DeliverEvents();
    if (dirty_.empty() && events_.empty()) break;
  }
  Reap();
  pumping_ = false;
  if (!closed_ && dirty_.empty() && events_.empty()) uv_idle_stop(&idle_);
}

void Endpoint::DeliverEvents() {
  if (teardown_ || self_.IsEmpty()) {
    events_.clear();
    return;
  }
  Napi::Env env = env_;
  Napi::HandleScope scope(env);
  Napi::Object self = self_.Value();
  std::vector<Event> events;
  events.swap(events_);
  for (Event& ev : events) {
    napi_value payload;
    if (ev.kind == kEventData) {
      payload = Napi::Buffer<uint8_t>::Copy(env, ev.data.data(), ev.data.size());
    } else if (!ev.strings.empty() || ev.kind == kEventHeaders || ev.kind == kEventHandshake || ev.kind == kEventClose) {
      Napi::Array a = Napi::Array::New(env, ev.strings.size());
      for (uint32_t i = 0; i < ev.strings.size(); ++i) a.Set(i, Napi::String::New(env, ev.strings[i]));
      payload = a;
    } else {
      payload = env.Undefined();
    }
    Napi::Value ret = emit_.MakeCallback(
        self,
        {Napi::Number::New(env, ev.kind), Napi::Number::New(env, ev.conn),
         Napi::Number::New(env, static_cast<double>(ev.stream)),
         Napi::Number::New(env, static_cast<double>(ev.code)), Napi::Number::New(env, ev.flag), payload},
        *async_);
    bool wantMore = true;
    if (env.IsExceptionPending()) {
      Napi::Error err = env.GetAndClearPendingException();
      napi_fatal_exception(env, err.Value());
    } else if (!ret.IsEmpty()) {
      wantMore = ret.ToBoolean().Value();
    }
    if (ev.kind == kEventData) {
      auto it = conns_.find(ev.conn);
      if (it != conns_.end() && !it->second->dead()) it->second->DataDelivered(ev.stream, ev.data.size(), wantMore);
    }
    if (closed_) return;
  }
}

void Endpoint::Reap() {
  for (auto it = conns_.begin(); it != conns_.end();) {
    Connection* c = it->second;
    if (!c->dead() || c->dirty) {
      ++it;
      continue;
    }
    for (const std::string& key : c->cids_) {
      auto found = cids_.find(key);
      if (found != cids_.end() && found->second == c) cids_.erase(found);
    }
    it = conns_.erase(it);
    uv_close(reinterpret_cast<uv_handle_t*>(&c->timer_), [](uv_handle_t* h) {
      auto* conn = static_cast<Connection*>(h->data);
      Endpoint* endpoint = conn->endpoint_;
      delete conn;
      endpoint->HandleClosed();
    });
  }
}

void Endpoint::HandleClosed() {
  if (--openHandles_ > 0) return;
  if (wrap_ != nullptr) DetachWrap(wrap_);
  if (!teardown_) self_.Reset();
  delete this;
}

void Endpoint::OnHandleClosed(uv_handle_t* handle) {
  static_cast<Endpoint*>(handle->data)->HandleClosed();
}

// Closes every connection at once (CONNECTION_CLOSE, no draining) and the socket.
void Endpoint::Shutdown() {
  if (closed_) return;
  closing_ = true;
  for (auto& entry : conns_) {
    Connection* c = entry.second;
    c->Close(NGHTTP3_H3_NO_ERROR, false);
    if (!c->dead()) c->Kill("endpoint closed");
  }
  // Close events are still due to JS: deliver them before going quiet.
  if (!events_.empty() && !pumping_ && !teardown_) {
    pumping_ = true;
    DeliverEvents();
    pumping_ = false;
  }
  closed_ = true;
  for (auto& entry : conns_) entry.second->dirty = false;
  dirty_.clear();
  Reap();
  if (groFd_ >= 0) {
    uv_close(reinterpret_cast<uv_handle_t*>(&groPoll_), [](uv_handle_t* h) {
      auto* self = static_cast<Endpoint*>(h->data);
      close(self->groFd_);
      self->groFd_ = -1;
      self->HandleClosed();
    });
  }
  uv_close(reinterpret_cast<uv_handle_t*>(&udp_), OnHandleClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(&idle_), OnHandleClosed);
  uv_close(reinterpret_cast<uv_handle_t*>(&check_), OnHandleClosed);
}

Connection* Endpoint::Find(const Napi::CallbackInfo& info, size_t index) {
  if (info.Length() <= index || !info[index].IsNumber()) return nullptr;
  auto it = conns_.find(info[index].As<Napi::Number>().Uint32Value());
  if (it == conns_.end() || it->second->dead()) return nullptr;
  return it->second;
}

static int64_t StreamArg(const Napi::CallbackInfo& info, size_t index) {
  return info.Length() > index && info[index].IsNumber() ? info[index].As<Napi::Number>().Int64Value() : -1;
}

Napi::Value Endpoint::Address(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  char host[INET6_ADDRSTRLEN] = {0};
  int port = 0;
  if (local_.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&local_);
    uv_ip6_name(a, host, sizeof(host));
    port = ntohs(a->sin6_port);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&local_);
    uv_ip4_name(a, host, sizeof(host));
    port = ntohs(a->sin_port);
  }
  Napi::Object o = Napi::Object::New(env);
  o.Set("host", host);
  o.Set("port", port);
  o.Set("family", local_.ss_family == AF_INET6 ? "IPv6" : "IPv4");
  // What the kernel granted (Linux reports twice the usable size; capped by net.core.*mem_max).
  if (!closed_) {
    int rcv = 0, snd = 0;
    uv_recv_buffer_size(reinterpret_cast<uv_handle_t*>(&udp_), &rcv);
    uv_send_buffer_size(reinterpret_cast<uv_handle_t*>(&udp_), &snd);
    o.Set("recvBufferSize", rcv);
    o.Set("sendBufferSize", snd);
  }
  return o;
}

// connect({host, port, servername, expectedIdentity}) → connection id
Napi::Value Endpoint::Connect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_ || closing_) return Fail(env, "endpoint is closed");
  if (server_) return Fail(env, "connect() needs a client endpoint");
  if (info.Length() < 1 || !info[0].IsObject()) return Fail(env, "connect(options)");
  Napi::Object o = info[0].As<Napi::Object>();
  std::string host = GetString(o, "host");
  sockaddr_storage remote;
  if (!ParseAddress(host, static_cast<int>(GetNumber(o, "port", 0)), &remote)) {
    return Fail(env, "host must be an IP address: " + host);
  }
  if (remote.ss_family != local_.ss_family) return Fail(env, "address family differs from the endpoint's");
  uint32_t id = nextConnId_++;
  auto* conn = new Connection(this, id, false);
  ++openHandles_;
  conns_[id] = conn;
  std::string error;
  if (conn->InitClient(reinterpret_cast<sockaddr*>(&local_), localLen_,
                       reinterpret_cast<sockaddr*>(&remote), SockLen(reinterpret_cast<sockaddr*>(&remote)),
                       GetString(o, "servername"), GetString(o, "expectedIdentity"), &error) != 0) {
    conn->closeEmitted_ = true;
    conn->state_ = Connection::kDead;
    MarkDirty(conn);
    return Fail(env, error);
  }
  MarkDirty(conn);
  return Napi::Number::New(env, id);
}

// request(conn, headers[], endStream) → stream id, or -2 while the peer's stream limit is reached
Napi::Value Endpoint::Request(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Connection* c = Find(info, 0);
  if (c == nullptr) return Fail(env, "session is closed");
  std::string error;
  int64_t sid = c->SubmitRequest(GetStrings(info[1]), info.Length() > 2 && info[2].ToBoolean().Value(), &error);
  if (sid == -1) return Fail(env, error);
  return Napi::Number::New(env, static_cast<double>(sid));
}

// respond(conn, stream, headers[], endStream)
Napi::Value Endpoint::Respond(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Connection* c = Find(info, 0);
  if (c == nullptr) return Fail(env, "session is closed");
  std::string error;
  if (c->SubmitResponse(StreamArg(info, 1), GetStrings(info[2]),
                        info.Length() > 3 && info[3].ToBoolean().Value(), &error) != 0) {
    return Fail(env, error);
  }
  return env.Undefined();
}

// write(conn, stream, chunks: Buffer[] | null, end: boolean, trailers?: string[]) → below the
// high-water mark (false: wait for the drain event)
Napi::Value Endpoint::Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Connection* c = Find(info, 0);
  if (c == nullptr) return Napi::Boolean::New(env, true);
  int64_t sid = StreamArg(info, 1);
  bool below = true;
  if (info.Length() > 2 && info[2].IsArray()) {
    Napi::Array chunks = info[2].As<Napi::Array>();
    for (uint32_t i = 0, n = chunks.Length(); i < n; ++i) {
      Napi::Value v = chunks.Get(i);
      if (!v.IsTypedArray()) continue;
      Napi::Uint8Array b = v.As<Napi::Uint8Array>();
      below = c->Write(sid, b.Data(), b.ByteLength());
    }
  }
  if (info.Length() > 3 && info[3].ToBoolean().Value()) {
    if (info.Length() > 4 && info[4].IsArray()) {
      std::vector<std::string> trailers = GetStrings(info[4]);
      c->End(sid, &trailers);
    } else {
      c->End(sid, nullptr);
    }
  }
  return Napi::Boolean::New(env, below);
}

Napi::Value Endpoint::ResumeRead(const Napi::CallbackInfo& info) {
  Connection* c = Find(info, 0);
  if (c != nullptr) c->ResumeRead(StreamArg(info, 1));
  return info.Env().Undefined();
}

// resetStream(conn, stream, code): RESET_STREAM and STOP_SENDING with `code`
Napi::Value Endpoint::ResetStream(const Napi::CallbackInfo& info) {
  Connection* c = Find(info, 0);
  if (c != nullptr) {
    uint64_t code = info.Length() > 2 && info[2].IsNumber()
                        ? static_cast<uint64_t>(info[2].As<Napi::Number>().DoubleValue())
                        : NGHTTP3_H3_REQUEST_CANCELLED;
    c->ResetStream(StreamArg(info, 1), code);
  }
  return info.Env().Undefined();
}

// closeConnection(conn, code, graceful)
Napi::Value Endpoint::CloseConnection(const Napi::CallbackInfo& info) {
  Connection* c = Find(info, 0);
  if (c != nullptr) {
    uint64_t code = info.Length() > 1 && info[1].IsNumber()
                        ? static_cast<uint64_t>(info[1].As<Napi::Number>().DoubleValue())
                        : NGHTTP3_H3_NO_ERROR;
    c->Close(code, info.Length() > 2 && info[2].ToBoolean().Value());
  }
  return info.Env().Undefined();
}

Napi::Value Endpoint::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Connection* c = Find(info, 0);
  if (c == nullptr) return env.Undefined();
  Connection::Stats s = c->GetStats();
  Napi::Object o = Napi::Object::New(env);
  o.Set("smoothedRttMs", s.srttMs);
  o.Set("minRttMs", s.minRttMs);
  o.Set("latestRttMs", s.latestRttMs);
  o.Set("cwnd", static_cast<double>(s.cwnd));
  o.Set("bytesInFlight", static_cast<double>(s.bytesInFlight));
  o.Set("bytesSent", static_cast<double>(s.bytesSent));
  o.Set("bytesReceived", static_cast<double>(s.bytesReceived));
  o.Set("packetsSent", static_cast<double>(s.packetsSent));
  o.Set("packetsReceived", static_cast<double>(s.packetsReceived));
  o.Set("lostStreamPackets", static_cast<double>(s.lostStreamPackets));
  o.Set("ptoCount", static_cast<double>(s.ptoCount));
  o.Set("openStreams", static_cast<double>(s.openStreams));
  o.Set("streamsBidiLeft", static_cast<double>(s.streamsBidiLeft));
  return o;
}

Napi::Value Endpoint::Close(const Napi::CallbackInfo& info) {
  Shutdown();
  return info.Env().Undefined();
}

// stopAccepting(): new connection attempts are dropped from now on (graceful server close)
Napi::Value Endpoint::StopAccepting(const Napi::CallbackInfo& info) {
  closing_ = true;
  return info.Env().Undefined();
}

// setCredentials({ ca, cert, key }): connections from now on (accepted and dialled) use these;
// connections already set up keep the context they started with until they are deleted. The
// stateless-reset secret stays the one derived at start, so tokens already issued stay valid.
// Throws, and keeps the current context, when the PEM does not load.
Napi::Value Endpoint::SetCredentials(const Napi::CallbackInfo& info) {
  if (info.Length() < 1 || !info[0].IsObject()) return Fail(info.Env(), "setCredentials({ ca, cert, key })");
  Napi::Object o = info[0].As<Napi::Object>();
  TlsOptions next = tls_->options();
  next.ca = GetString(o, "ca");
  next.cert = GetString(o, "cert");
  next.key = GetString(o, "key");
  std::string error;
  std::unique_ptr<TlsContext> ctx = TlsContext::Create(next, &error);
  if (!ctx) return Fail(info.Env(), "TLS: " + error);
  tls_ = std::move(ctx);
  return info.Env().Undefined();
}

// setRef(bool): whether the socket keeps the process alive (like net.Socket#ref/unref)
Napi::Value Endpoint::SetRef(const Napi::CallbackInfo& info) {
  if (!closed_) {
    auto* h = reinterpret_cast<uv_handle_t*>(&udp_);
    if (info.Length() > 0 && info[0].ToBoolean().Value()) uv_ref(h);
    else uv_unref(h);
  }
  return info.Env().Undefined();
}

namespace {
uint64_t NumberArg(const Napi::CallbackInfo& info, size_t i) {
  return info.Length() > i && info[i].IsNumber() ? static_cast<uint64_t>(info[i].As<Napi::Number>().DoubleValue()) : 0;
}
}  // namespace

// spliceFd(conn, stream, fd, toPeer: Buffer | null, idleMs, start = 0, toSocket: Buffer | null)
Napi::Value Endpoint::SpliceFd(const Napi::CallbackInfo& info) {
  Connection* c = Find(info, 0);
  if (c == nullptr) return Fail(info.Env(), "session is closed");
  auto start = static_cast<SpliceStartMode>(static_cast<int32_t>(NumberArg(info, 5)));
  if (start < kStartOnAnswer || start > kStartNow) return Fail(info.Env(), "spliceFd: start must be 0, 1 or 2");
  if (info.Length() < 3 || !info[2].IsNumber()) return Fail(info.Env(), "spliceFd: fd must be a number");
  std::string error;
  if (!c->SpliceFd(StreamArg(info, 1), info[2].As<Napi::Number>().Int32Value(), BytesArg(info, 3), NumberArg(info, 4),
                   start, BytesArg(info, 6), &error)) {
    return Fail(info.Env(), error);
  }
  Pump();
  return info.Env().Undefined();
}

// spliceStart(conn, stream, toSocket: Buffer | null): after spliceFd(…, start = 1)
Napi::Value Endpoint::SpliceStart(const Napi::CallbackInfo& info) {
  Connection* c = Find(info, 0);
  if (c == nullptr) return Fail(info.Env(), "session is closed");
  if (!c->SpliceStart(StreamArg(info, 1), BytesArg(info, 2))) return Fail(info.Env(), "no splice on that stream");
  Pump();
  return info.Env().Undefined();
}

// spliceConnect(conn, stream, host, port, connectMs, idleMs): inbound
Napi::Value Endpoint::SpliceConnect(const Napi::CallbackInfo& info) {
  Connection* c = Find(info, 0);
  if (c == nullptr) return Fail(info.Env(), "session is closed");
  if (info.Length() < 4 || !info[2].IsString() || !info[3].IsNumber()) return Fail(info.Env(), "spliceConnect(conn, stream, host, port, connectMs, idleMs)");
  sockaddr_storage addr;
  std::string host = info[2].As<Napi::String>().Utf8Value();
  if (!ParseAddress(host, info[3].As<Napi::Number>().Int32Value(), &addr)) return Fail(info.Env(), "target must be an IP address: " + host);
  std::string error;
  if (!c->SpliceConnect(StreamArg(info, 1), reinterpret_cast<sockaddr*>(&addr), NumberArg(info, 4), NumberArg(info, 5), &error)) {
    return Fail(info.Env(), error);
  }
  Pump();
  return info.Env().Undefined();
}

}  // namespace meshgate
