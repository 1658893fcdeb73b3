// The QUIC half of a connection: ngtcp2 set-up for both sides, packet input, the write loop
// (coalescing packets into GSO batches), timers, and the close/drain states of RFC 9000 §10.
#include "connection.h"

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include <gnutls/crypto.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

#include "endpoint.h"

namespace meshgate {

namespace {

Connection* Self(void* user_data) { return static_cast<Connection*>(user_data); }

ngtcp2_conn* GetConn(ngtcp2_crypto_conn_ref* ref) {
  return static_cast<Connection*>(ref->user_data)->quic();
}

void Rand(uint8_t* dest, size_t len, const ngtcp2_rand_ctx*) {
  gnutls_rnd(GNUTLS_RND_RANDOM, dest, len);
}

void Log(void*, const char* format, ...) {
  va_list ap;
  va_start(ap, format);
  vfprintf(stderr, format, ap);
  va_end(ap);
  fputc('\n', stderr);
}

int HandshakeCompleted(ngtcp2_conn*, void* ud) { return Self(ud)->OnHandshakeCompleted(); }

int HandshakeConfirmed(ngtcp2_conn*, void* ud) { return Self(ud)->OnHandshakeConfirmed(); }

int RecvStreamData(ngtcp2_conn*, uint32_t flags, int64_t sid, uint64_t, const uint8_t* data,
                   size_t len, void* ud, void*) {
  return Self(ud)->OnRecvStreamData(flags, sid, data, len);
}

int AckedStreamDataOffset(ngtcp2_conn*, int64_t sid, uint64_t, uint64_t len, void* ud, void*) {
  return Self(ud)->OnAckedStreamData(sid, len);
}

int StreamClose(ngtcp2_conn*, uint32_t flags, int64_t sid, uint64_t code, void* ud, void*) {
  return Self(ud)->OnStreamClose(flags, sid, code);
}

int StreamReset(ngtcp2_conn*, int64_t sid, uint64_t, uint64_t code, void* ud, void*) {
  return Self(ud)->OnStreamReset(sid, code, false);
}

int StreamStopSending(ngtcp2_conn*, int64_t sid, uint64_t code, void* ud, void*) {
  return Self(ud)->OnStreamReset(sid, code, true);
}

int ExtendMaxStreamData(ngtcp2_conn*, int64_t sid, uint64_t, void* ud, void*) {
  return Self(ud)->OnExtendMaxStreamData(sid);
}

int ExtendMaxLocalStreamsBidi(ngtcp2_conn*, uint64_t, void* ud) {
  return Self(ud)->OnExtendMaxLocalStreams();
}

int GetNewConnectionId(ngtcp2_conn*, ngtcp2_cid* cid, uint8_t* token, size_t cidlen, void* ud) {
  return Self(ud)->OnNewConnectionId(cid, token, cidlen);
}

int RemoveConnectionId(ngtcp2_conn*, const ngtcp2_cid* cid, void* ud) {
  return Self(ud)->OnRemoveConnectionId(cid);
}

int RecvStatelessReset(ngtcp2_conn*, const ngtcp2_pkt_stateless_reset*, void* ud) {
  Self(ud)->statelessReset = true;
  return 0;
}

void OnTimerCb(uv_timer_t* handle) { static_cast<Connection*>(handle->data)->OnTimer(); }

void FillCallbacks(ngtcp2_callbacks* cb, bool server) {
  memset(cb, 0, sizeof(*cb));
  if (server) {
    cb->recv_client_initial = ngtcp2_crypto_recv_client_initial_cb;
  } else {
    cb->client_initial = ngtcp2_crypto_client_initial_cb;
    cb->recv_retry = ngtcp2_crypto_recv_retry_cb;
  }
  cb->recv_crypto_data = ngtcp2_crypto_recv_crypto_data_cb;
  cb->encrypt = ngtcp2_crypto_encrypt_cb;
  cb->decrypt = ngtcp2_crypto_decrypt_cb;
  cb->hp_mask = ngtcp2_crypto_hp_mask_cb;
  cb->update_key = ngtcp2_crypto_update_key_cb;
  cb->delete_crypto_aead_ctx = ngtcp2_crypto_delete_crypto_aead_ctx_cb;
  cb->delete_crypto_cipher_ctx = ngtcp2_crypto_delete_crypto_cipher_ctx_cb;
  cb->get_path_challenge_data = ngtcp2_crypto_get_path_challenge_data_cb;
  cb->version_negotiation = ngtcp2_crypto_version_negotiation_cb;
  cb->rand = Rand;
  cb->get_new_connection_id = GetNewConnectionId;
  cb->remove_connection_id = RemoveConnectionId;
  cb->recv_stateless_reset = RecvStatelessReset;
  cb->handshake_completed = HandshakeCompleted;
  cb->handshake_confirmed = HandshakeConfirmed;
  cb->recv_stream_data = RecvStreamData;
  cb->acked_stream_data_offset = AckedStreamDataOffset;
  cb->stream_close = StreamClose;
  cb->stream_reset = StreamReset;
  cb->stream_stop_sending = StreamStopSending;
  cb->extend_max_stream_data = ExtendMaxStreamData;
  cb->extend_max_local_streams_bidi = ExtendMaxLocalStreamsBidi;
}

void RandomCid(ngtcp2_cid* cid, size_t len) {
  cid->datalen = len;
  gnutls_rnd(GNUTLS_RND_RANDOM, cid->data, len);
}

}  // namespace

Connection::Connection(Endpoint* endpoint, uint32_t id, bool server)
    : endpoint_(endpoint), id_(id), server_(server) {
  ngtcp2_connection_close_error_default(&ccerr_);
  tlsState_.ref.get_conn = GetConn;
  tlsState_.ref.user_data = this;
  uv_timer_init(endpoint->loop(), &timer_);
  timer_.data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(&timer_));
}

Connection::~Connection() {
  EndAllSplices("the peer session closed");
  streams_.clear();
  if (h3_ != nullptr) nghttp3_conn_del(h3_);
  if (conn_ != nullptr) ngtcp2_conn_del(conn_);
  if (tls_ != nullptr) gnutls_deinit(tls_);
}

void Connection::InitSettings(ngtcp2_settings* settings, ngtcp2_transport_params* params) {
  const QuicSettings& qs = endpoint_->settings();
  ngtcp2_settings_default(settings);
  settings->initial_ts = NowNs();
  settings->cc_algo = qs.cc;
  settings->max_window = qs.maxData;
  settings->max_stream_window = qs.maxStreamData;
  settings->handshake_timeout = qs.handshakeTimeoutMs * NGTCP2_MILLISECONDS;
  if (qs.debug) settings->log_printf = Log;
  ngtcp2_transport_params_default(params);
  params->initial_max_stream_data_bidi_local = qs.maxStreamData;
  params->initial_max_stream_data_bidi_remote = qs.maxStreamData;
  params->initial_max_stream_data_uni = qs.maxStreamData;
  params->initial_max_data = qs.maxData;
  // Clients accept no peer-initiated bidi streams (RFC 9114 §6.1: server push is not used).
  params->initial_max_streams_bidi = server_ ? qs.maxStreamsBidi : 0;
  // Control stream and the two QPACK streams (RFC 9114 §6.2, RFC 9204 §4.2), plus slack.
  params->initial_max_streams_uni = 3;
  params->max_idle_timeout = qs.idleTimeoutMs * NGTCP2_MILLISECONDS;
  params->active_connection_id_limit = 7;
}

int Connection::InitTls(const std::string& servername, const std::string& expectedIdentity,
                        std::string* error) {
  tlsState_.check.expectedIdentity = expectedIdentity;
  tlsContext_ = endpoint_->tls();
  int rv = tlsContext_->NewSession(&tlsState_, servername, &tls_);
  if (rv != 0) {
    *error = std::string("TLS session: ") + gnutls_strerror(rv);
    return -1;
  }
  ngtcp2_conn_set_tls_native_handle(conn_, tls_);
  return 0;
}

int Connection::InitClient(const sockaddr* local, socklen_t localLen, const sockaddr* remote,
                           socklen_t remoteLen, const std::string& servername,
                           const std::string& expectedIdentity, std::string* error) {
  memcpy(&local_, local, localLen);
  localLen_ = localLen;
  memcpy(&remote_, remote, remoteLen);
  remoteLen_ = remoteLen;
  ngtcp2_cid dcid, scid;
  RandomCid(&dcid, 18);
  RandomCid(&scid, Endpoint::kCidLen);
  ngtcp2_path path = {{const_cast<sockaddr*>(local), localLen},
                      {const_cast<sockaddr*>(remote), remoteLen}, nullptr};
  ngtcp2_callbacks cb;
  FillCallbacks(&cb, false);
  ngtcp2_settings settings;
  ngtcp2_transport_params params;
  InitSettings(&settings, &params);
  int rv = ngtcp2_conn_client_new(&conn_, &dcid, &scid, &path, NGTCP2_PROTO_VER_V1, &cb,
                                  &settings, &params, nullptr, this);
  if (rv != 0) {
    *error = std::string("ngtcp2_conn_client_new: ") + ngtcp2_strerror(rv);
    return -1;
  }
  if (InitTls(servername, expectedIdentity, error) != 0) return -1;
  if (endpoint_->settings().keepAliveMs > 0) {
    ngtcp2_conn_set_keep_alive_timeout(conn_, endpoint_->settings().keepAliveMs * NGTCP2_MILLISECONDS);
  }
  std::string key = CidKey(scid.data, scid.datalen);
  cids_.push_back(key);
  endpoint_->AddCid(key, this);
  return 0;
}

int Connection::InitServer(const ngtcp2_pkt_hd& hd, const sockaddr* local, socklen_t localLen,
                           const sockaddr* remote, socklen_t remoteLen, std::string* error) {
  memcpy(&local_, local, localLen);
  localLen_ = localLen;
  memcpy(&remote_, remote, remoteLen);
  remoteLen_ = remoteLen;
  ngtcp2_cid scid;
  RandomCid(&scid, Endpoint::kCidLen);
  ngtcp2_path path = {{const_cast<sockaddr*>(local), localLen},
                      {const_cast<sockaddr*>(remote), remoteLen}, nullptr};
  ngtcp2_callbacks cb;
  FillCallbacks(&cb, true);
  ngtcp2_settings settings;
  ngtcp2_transport_params params;
  InitSettings(&settings, &params);
  settings.token = hd.token;
  // RFC 9000 §7.3: the server echoes the client's first Destination Connection ID.
  params.original_dcid = hd.dcid;
  // RFC 9000 §18.2: the reset token of the connection ID chosen in the handshake.
  if (ngtcp2_crypto_generate_stateless_reset_token(params.stateless_reset_token, endpoint_->resetSecret(),
                                                   Endpoint::kResetSecretLen, &scid) == 0) {
    params.stateless_reset_token_present = 1;
  }
  int rv = ngtcp2_conn_server_new(&conn_, &hd.scid, &scid, &path, hd.version, &cb, &settings,
                                  &params, nullptr, this);
  if (rv != 0) {
    *error = std::string("ngtcp2_conn_server_new: ") + ngtcp2_strerror(rv);
    return -1;
  }
  if (InitTls("", "", error) != 0) return -1;
  if (endpoint_->settings().keepAliveMs > 0) {
    ngtcp2_conn_set_keep_alive_timeout(conn_, endpoint_->settings().keepAliveMs * NGTCP2_MILLISECONDS);
  }
  // Route both our chosen ID and the client's original one: the client keeps using the latter
  // until our first Initial reaches it (RFC 9000 §7.2).
  const ngtcp2_cid* routed[] = {&scid, &hd.dcid};
  for (const ngtcp2_cid* cid : routed) {
    std::string key = CidKey(cid->data, cid->datalen);
    cids_.push_back(key);
    endpoint_->AddCid(key, this);
  }
  return 0;
}

int Connection::OnNewConnectionId(ngtcp2_cid* cid, uint8_t* token, size_t cidlen) {
  RandomCid(cid, cidlen);
  if (ngtcp2_crypto_generate_stateless_reset_token(token, endpoint_->resetSecret(),
                                                   Endpoint::kResetSecretLen, cid) != 0) {
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
  std::string key = CidKey(cid->data, cid->datalen);
  cids_.push_back(key);
  endpoint_->AddCid(key, this);
  return 0;
}

int Connection::OnRemoveConnectionId(const ngtcp2_cid* cid) {
  std::string key = CidKey(cid->data, cid->datalen);
  cids_.erase(std::remove(cids_.begin(), cids_.end(), key), cids_.end());
  endpoint_->RemoveCid(key);
  return 0;
}

namespace {
// Bytes sent and not yet acknowledged or declared lost (ngtcp2 0.12 has no getter of its own).
uint64_t BytesInFlight(ngtcp2_conn* conn) {
  ngtcp2_conn_stat cs;
  ngtcp2_conn_get_conn_stat(conn, &cs);
  return cs.bytes_in_flight;
}
}  // namespace

void Connection::OnDatagram(const ngtcp2_path& path, const uint8_t* data, size_t len) {
  if (state_ == kDead) return;
  bytesReceived_ += len;
  ++packetsReceived_;
  if (state_ == kClosing) {
    // RFC 9000 §10.2.1: answer packets in the closing period with the CONNECTION_CLOSE again.
    if (!closePacket_.empty() && !endpoint_->sendBlocked()) {
      endpoint_->Send(reinterpret_cast<sockaddr*>(&remote_), remoteLen_, closePacket_.data(),
                      closePacket_.size(), closePacket_.size());
    }
    return;
  }
  if (state_ == kDraining) return;
  ngtcp2_pkt_info pi;
  memset(&pi, 0, sizeof(pi));
  int rv = ngtcp2_conn_read_pkt(conn_, &path, &pi, data, len, NowNs());
  if (rv != 0) {
    HandleError(rv);
    return;
  }
  // The peer is alive: the silence clock restarts if anything of ours is still in flight.
  unansweredSinceNs_ = BytesInFlight(conn_) > 0 ? NowNs() : 0;
  endpoint_->MarkDirty(this);
}

bool Connection::MatchesResetToken(const uint8_t* token) {
  if (conn_ == nullptr || (state_ != kOpen && state_ != kHandshaking)) return false;
  size_t n = ngtcp2_conn_get_num_active_dcid(conn_);
  if (n == 0) return false;
  std::vector<ngtcp2_cid_token> dcids(n);
  n = ngtcp2_conn_get_active_dcid(conn_, dcids.data());
  for (size_t i = 0; i < n; ++i) {
    if (dcids[i].token_present &&
        memcmp(dcids[i].token, token, NGTCP2_STATELESS_RESET_TOKENLEN) == 0) {
      return true;
    }
  }
  return false;
}

void Connection::OnStatelessReset() {
  statelessReset = true;
  EnterDraining();
}

void Connection::HandleError(int liberr) {
  switch (liberr) {
    case NGTCP2_ERR_DRAINING:
      EnterDraining();
      return;
    case NGTCP2_ERR_DROP_CONN:
      Kill("connection dropped");
      return;
    case NGTCP2_ERR_CRYPTO:
      if (!ccerrSet_) {
        ngtcp2_connection_close_error_set_transport_error_tls_alert(
            &ccerr_, ngtcp2_conn_get_tls_alert(conn_), nullptr, 0);
        ccerrSet_ = true;
      }
      if (closeReason_.empty()) {
        closeReason_ = tlsState_.check.verifyError.empty()
                           ? "TLS handshake failed (alert " + std::to_string(ngtcp2_conn_get_tls_alert(conn_)) + ")"
                           : "peer certificate refused: " + tlsState_.check.verifyError;
      }
      break;
    default:
      if (!ccerrSet_) {
        ngtcp2_connection_close_error_set_transport_error_liberr(&ccerr_, liberr, nullptr, 0);
        ccerrSet_ = true;
      }
      if (closeReason_.empty()) closeReason_ = ngtcp2_strerror(liberr);
      break;
  }
  StartClosing();
}

void Connection::SetAppError(uint64_t code, const std::string& reason) {
  if (ccerrSet_) return;
  ngtcp2_connection_close_error_set_application_error(&ccerr_, code, nullptr, 0);
  ccerrSet_ = true;
  if (closeReason_.empty()) closeReason_ = reason;
}

void Connection::StartClosing() {
  if (state_ == kClosing || state_ == kDraining || state_ == kDead) return;
  if (conn_ == nullptr || ngtcp2_conn_is_in_closing_period(conn_)) {
    Kill(closeReason_);
    return;
  }
  state_ = kClosing;
  ngtcp2_path_storage ps;
  ngtcp2_path_storage_zero(&ps);
  ngtcp2_pkt_info pi;
  closePacket_.resize(Endpoint::kMaxPacket);
  ngtcp2_ssize n = ngtcp2_conn_write_connection_close(conn_, &ps.path, &pi, closePacket_.data(),
                                                      closePacket_.size(), &ccerr_, NowNs());
  if (n <= 0) {
    closePacket_.clear();
    Kill(closeReason_);
    return;
  }
  closePacket_.resize(static_cast<size_t>(n));
  if (!endpoint_->sendBlocked()) {
    endpoint_->Send(reinterpret_cast<sockaddr*>(&remote_), remoteLen_, closePacket_.data(),
                    closePacket_.size(), closePacket_.size());
  }
  EmitClose(ccerr_.error_code, static_cast<int32_t>(ccerr_.type), closeReason_);
  uint64_t pto = ngtcp2_conn_get_pto(conn_) / NGTCP2_MILLISECONDS;
  uv_timer_start(&timer_, OnTimerCb, 3 * pto + 1, 0);
}

void Connection::EnterDraining() {
  if (state_ == kClosing || state_ == kDraining || state_ == kDead) return;
  state_ = kDraining;
  if (statelessReset) {
    EmitClose(NGTCP2_INTERNAL_ERROR, NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_TRANSPORT,
              "stateless reset: the peer has no state for this connection (restarted?)");
    uv_timer_start(&timer_, OnTimerCb, 1, 0);
    return;
  }
  ngtcp2_connection_close_error peer;
  ngtcp2_conn_get_connection_close_error(conn_, &peer);
  std::string reason = "closed by peer";
  if (peer.type == NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_TRANSPORT && peer.error_code >= 0x100 &&
      peer.error_code < 0x200) {
    reason += " (TLS alert " + std::to_string(peer.error_code - 0x100) + ")";
  }
  if (peer.reasonlen > 0) {
    reason += ": " + std::string(reinterpret_cast<char*>(peer.reason), peer.reasonlen);
  }
  EmitClose(peer.error_code, static_cast<int32_t>(peer.type), reason);
  uint64_t pto = ngtcp2_conn_get_pto(conn_) / NGTCP2_MILLISECONDS;
  uv_timer_start(&timer_, OnTimerCb, 3 * pto + 1, 0);
}

void Connection::Kill(const std::string& reason) {
  if (state_ == kDead) return;
  EmitClose(ccerr_.error_code, static_cast<int32_t>(ccerr_.type), reason);
  state_ = kDead;
  uv_timer_stop(&timer_);
  endpoint_->MarkDirty(this);
}

void Connection::EmitClose(uint64_t code, int32_t type, const std::string& reason) {
  if (closeEmitted_) return;
  closeEmitted_ = true;
  EndAllSplices("the peer session closed");
  Event ev{kEventClose, id_, -1, code, type, {reason}, {}};
  endpoint_->Push(std::move(ev));
  endpoint_->MarkDirty(this);
}

void Connection::Queue(EventKind kind, int64_t sid, uint64_t code, int32_t flag) {
  endpoint_->Push(Event{kind, id_, sid, code, flag, {}, {}});
  endpoint_->MarkDirty(this);
}

void Connection::OnTimer() {
  if (state_ == kClosing || state_ == kDraining) {
    Kill(closeReason_);
    return;
  }
  if (state_ == kDead) return;
  if (goawayAt_ != 0 && NowNs() >= goawayAt_ && state_ == kOpen) FinalGoaway();
  const uint64_t silenceNs = endpoint_->settings().peerSilenceMs * NGTCP2_MILLISECONDS;
  if (state_ == kOpen && silenceNs > 0 && unansweredSinceNs_ != 0 && NowNs() - unansweredSinceNs_ >= silenceNs) {
    // A peer that crashed or lost its path sends nothing, not even a stateless reset; waiting for
    // the idle timeout would hold every request on this session that long.
    // Not a clean end (unlike the idle timeout): requests on it failed. Nothing is sent.
    ngtcp2_connection_close_error_set_transport_error(&ccerr_, NGTCP2_INTERNAL_ERROR, nullptr, 0);
    ccerrSet_ = true;
    Kill("peer silent for " + std::to_string(endpoint_->settings().peerSilenceMs) +
         " ms with data unacknowledged");
    return;
  }
  int rv = ngtcp2_conn_handle_expiry(conn_, NowNs());
  if (rv != 0) {
    if (rv == NGTCP2_ERR_IDLE_CLOSE) {
      // RFC 9000 §10.1: an idle timeout closes silently.
      ccerr_.type = NGTCP2_CONNECTION_CLOSE_ERROR_CODE_TYPE_TRANSPORT_IDLE_CLOSE;
      Kill("idle timeout");
      return;
    }
    if (rv == NGTCP2_ERR_HANDSHAKE_TIMEOUT) {
      Kill("handshake timeout");
      return;
    }
    HandleError(rv);
    return;
  }
  endpoint_->MarkDirty(this);
}

void Connection::ScheduleTimer() {
  if (state_ != kHandshaking && state_ != kOpen) return;
  ngtcp2_tstamp expiry = ngtcp2_conn_get_expiry(conn_);
  if (expiry == UINT64_MAX && goawayAt_ == 0 && unansweredSinceNs_ == 0) {
    uv_timer_stop(&timer_);
    return;
  }
  uint64_t now = NowNs();
  // Rounded down: a timer a fraction of a millisecond early costs one extra loop turn, a late
  // one costs pacing throughput.
  uint64_t delayMs = expiry == UINT64_MAX ? UINT64_MAX
                     : expiry > now      ? (expiry - now) / NGTCP2_MILLISECONDS
                                         : 0;
  const uint64_t silenceNs = endpoint_->settings().peerSilenceMs * NGTCP2_MILLISECONDS;
  if (silenceNs > 0 && unansweredSinceNs_ != 0) {
    const uint64_t due = unansweredSinceNs_ + silenceNs;
    delayMs = std::min(delayMs, due > now ? (due - now + NGTCP2_MILLISECONDS - 1) / NGTCP2_MILLISECONDS : 0);
  }
  if (goawayAt_ != 0) {
    // Rounded up: the final GOAWAY must not leave before its round trip has passed.
    uint64_t goawayMs = goawayAt_ > now ? (goawayAt_ - now + NGTCP2_MILLISECONDS - 1) / NGTCP2_MILLISECONDS : 0;
    delayMs = std::min(delayMs, goawayMs);
  }
  uv_timer_start(&timer_, OnTimerCb, delayMs, 0);
}

void Connection::WritePackets() {
  if (state_ != kHandshaking && state_ != kOpen) return;
  if (endpoint_->sendBlocked()) return;
  ngtcp2_path_storage ps;
  ngtcp2_path_storage_zero(&ps);
  ngtcp2_pkt_info pi;
  uint8_t* buf = endpoint_->txBuffer();
  const size_t maxUdp = ngtcp2_conn_get_max_tx_udp_payload_size(conn_);
  // A burst is one full GSO batch, whatever ngtcp2's send quantum (at most 64 KB in 0.12, so
  // never more than a batch): its BBR sizes the quantum as pacing rate × minimum RTT, which on a
  // 25 µs path is its 10-packet floor, and so three sendmsg(2) calls where one would do. Pacing
  // still holds: update_pkt_tx_time below spaces the next burst by this one's length over the
  // pacing rate, and cwnd caps bytes in flight. CUBIC's quantum is 64 KB already.
  const size_t maxPkts = Endpoint::kMaxBatch;
  const sockaddr* remote = reinterpret_cast<sockaddr*>(&remote_);
  size_t off = 0, npkts = 0, seg = 0;
  bool sendOk = true;
  auto flush = [&]() {
    if (npkts == 0) return;
    sendOk = endpoint_->Send(remote, remoteLen_, buf, off, seg);
    packetsSent_ += npkts;
    bytesSent_ += off;
    off = npkts = 0;
  };
  ngtcp2_tstamp ts = NowNs();
  for (;;) {
    int64_t sid = -1;
    int fin = 0;
    nghttp3_vec vec[16];
    nghttp3_ssize sveccnt = 0;
    const bool owed = !finOwed_.empty();
    if (owed) {
      // A FIN nghttp3 handed us once and will not hand again (see finOwed_): no data, FIN only.
      sid = finOwed_.back();
      fin = 1;
    } else if (h3_ != nullptr && ngtcp2_conn_get_max_data_left(conn_) > 0) {
      sveccnt = nghttp3_conn_writev_stream(h3_, &sid, &fin, vec, 16);
      if (sveccnt < 0) {
        SetAppError(nghttp3_err_infer_quic_app_error_code(static_cast<int>(sveccnt)),
                    std::string("HTTP/3: ") + nghttp3_strerror(static_cast<int>(sveccnt)));
        StartClosing();
        return;
      }
    }
    uint32_t flags = NGTCP2_WRITE_STREAM_FLAG_MORE;
    if (fin) flags |= NGTCP2_WRITE_STREAM_FLAG_FIN;
    ngtcp2_ssize ndatalen = -1;
    ngtcp2_ssize nwrite = ngtcp2_conn_writev_stream(
        conn_, &ps.path, &pi, buf + off, maxUdp, &ndatalen, flags, sid,
        reinterpret_cast<const ngtcp2_vec*>(vec), static_cast<size_t>(sveccnt), ts);
    if (fin && sveccnt == 0 && sid >= 0 && nwrite != NGTCP2_ERR_STREAM_SHUT_WR &&
        nwrite != NGTCP2_ERR_STREAM_NOT_FOUND) {
      NoteBareFin(sid, ndatalen >= 0);
    }
    if (owed && nwrite == NGTCP2_ERR_STREAM_DATA_BLOCKED) {
      // Not expected for a FIN without data; retry on the next write rather than spin here.
      flush();
      break;
    }
    if (nwrite < 0) {
      switch (nwrite) {
        case NGTCP2_ERR_STREAM_DATA_BLOCKED:
          nghttp3_conn_block_stream(h3_, sid);
          continue;
        case NGTCP2_ERR_STREAM_SHUT_WR:
          // Reset by us or by the peer's STOP_SENDING: no FIN is owed any more.
          if (owed) ForgetOwedFin(sid);
          nghttp3_conn_shutdown_stream_write(h3_, sid);
          continue;
        case NGTCP2_ERR_WRITE_MORE:
          if (nghttp3_conn_add_write_offset(h3_, sid, static_cast<size_t>(ndatalen)) != 0) {
            SetAppError(NGHTTP3_H3_INTERNAL_ERROR, "HTTP/3 write offset");
            StartClosing();
            return;
          }
          continue;
        case NGTCP2_ERR_STREAM_NOT_FOUND:
          // An owed FIN on a stream that closed meanwhile; for nghttp3's streams, an error.
          if (owed) {
            ForgetOwedFin(sid);
            continue;
          }
          [[fallthrough]];
        default:
          flush();
          if (!ccerrSet_) {
            ngtcp2_connection_close_error_set_transport_error_liberr(
                &ccerr_, static_cast<int>(nwrite), nullptr, 0);
            ccerrSet_ = true;
          }
          if (closeReason_.empty()) closeReason_ = ngtcp2_strerror(static_cast<int>(nwrite));
          StartClosing();
          return;
      }
    }
    if (ndatalen >= 0 && sid >= 0 &&
        nghttp3_conn_add_write_offset(h3_, sid, static_cast<size_t>(ndatalen)) != 0) {
      SetAppError(NGHTTP3_H3_INTERNAL_ERROR, "HTTP/3 write offset");
      StartClosing();
      return;
    }
    if (nwrite == 0) {
      flush();
      break;
    }
    size_t n = static_cast<size_t>(nwrite);
    // One GSO send carries equal-sized segments, only the last may be shorter.
    if (npkts == 0) {
      seg = n;
      off = n;
      npkts = 1;
    } else if (n == seg) {
      off += n;
      ++npkts;
    } else if (n < seg) {
      off += n;
      ++npkts;
      flush();
    } else {
      size_t prev = off;
      flush();
      memmove(buf, buf + prev, n);
      seg = n;
      off = n;
      npkts = 1;
    }
    if (!sendOk) break;
    if (npkts >= maxPkts) {
      flush();
      // Send quantum reached (pacing): continue on the next loop turn, after reading ACKs.
      endpoint_->MarkDirty(this);
      break;
    }
  }
  ngtcp2_conn_update_pkt_tx_time(conn_, ts);
  // The silence clock starts with the first packet the peer still owes an answer to.
  if (BytesInFlight(conn_) == 0) {
    unansweredSinceNs_ = 0;
  } else if (unansweredSinceNs_ == 0) {
    unansweredSinceNs_ = ts;
  }
  if (closeWhenIdle_ && streams_.empty()) {
    // Graceful close: the GOAWAY went out above; no request is left, so end the connection.
    SetAppError(NGHTTP3_H3_NO_ERROR, "closed");
    StartClosing();
    return;
  }
  ScheduleTimer();
}

void Connection::NoteBareFin(int64_t sid, bool written) {
  auto it = std::find(finOwed_.begin(), finOwed_.end(), sid);
  if (written) {
    if (it != finOwed_.end()) finOwed_.erase(it);
  } else if (it == finOwed_.end()) {
    finOwed_.push_back(sid);
  }
}

void Connection::ForgetOwedFin(int64_t sid) {
  auto it = std::find(finOwed_.begin(), finOwed_.end(), sid);
  if (it != finOwed_.end()) finOwed_.erase(it);
}

Connection::Stats Connection::GetStats() {
  Stats s{};
  if (conn_ == nullptr) return s;
  ngtcp2_conn_stat cs;
  ngtcp2_conn_get_conn_stat(conn_, &cs);
  s.srttMs = static_cast<double>(cs.smoothed_rtt) / NGTCP2_MILLISECONDS;
  s.minRttMs = static_cast<double>(cs.min_rtt) / NGTCP2_MILLISECONDS;
  s.latestRttMs = static_cast<double>(cs.latest_rtt) / NGTCP2_MILLISECONDS;
  s.cwnd = cs.cwnd;
  s.bytesInFlight = cs.bytes_in_flight;
  s.bytesSent = bytesSent_;
  s.bytesReceived = bytesReceived_;
  s.packetsSent = packetsSent_;
  s.packetsReceived = packetsReceived_;
  s.lostStreamPackets = lostStreamPackets_;
  for (const auto& entry : streams_) {
    s.lostStreamPackets += ngtcp2_conn_get_stream_loss_count(conn_, entry.first);
  }
  s.ptoCount = cs.pto_count;
  s.openStreams = streams_.size();
  s.streamsBidiLeft = ngtcp2_conn_get_streams_bidi_left(conn_);
  return s;
}

}  // namespace meshgate
