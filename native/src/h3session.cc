// The HTTP/3 half of a connection (RFC 9114, via nghttp3): control and QPACK streams, request
// submission, body bytes handed to nghttp3 by reference until acknowledged, header sections and
// body chunks queued for JS, and the flow-control credit JS gives back as it reads.
#include <algorithm>
#include <cstdio>
#include <cstring>

#include "connection.h"
#include "endpoint.h"

namespace meshgate {

namespace {

Connection* Self(void* user_data) { return static_cast<Connection*>(user_data); }
Stream* StreamOf(void* stream_user_data) { return static_cast<Stream*>(stream_user_data); }

int AckedStreamData(nghttp3_conn*, int64_t sid, uint64_t len, void* ud, void*) {
  return Self(ud)->H3AckedData(sid, len);
}
int StreamClose(nghttp3_conn*, int64_t sid, uint64_t code, void* ud, void*) {
  return Self(ud)->H3StreamClose(sid, code);
}
int RecvData(nghttp3_conn*, int64_t sid, const uint8_t* data, size_t len, void* ud, void* sud) {
  return Self(ud)->H3RecvData(StreamOf(sud), sid, data, len);
}
int DeferredConsume(nghttp3_conn*, int64_t sid, size_t consumed, void* ud, void*) {
  return Self(ud)->H3DeferredConsume(sid, consumed);
}
int BeginHeaders(nghttp3_conn*, int64_t sid, void* ud, void* sud) {
  return Self(ud)->H3BeginHeaders(sid, StreamOf(sud));
}
int RecvHeader(nghttp3_conn*, int64_t, int32_t, nghttp3_rcbuf* name, nghttp3_rcbuf* value,
               uint8_t, void* ud, void* sud) {
  return Self(ud)->H3RecvHeader(StreamOf(sud), name, value);
}
int EndHeaders(nghttp3_conn*, int64_t sid, int fin, void* ud, void* sud) {
  return Self(ud)->H3EndHeaders(sid, StreamOf(sud), false, fin != 0);
}
int EndTrailers(nghttp3_conn*, int64_t sid, int fin, void* ud, void* sud) {
  return Self(ud)->H3EndHeaders(sid, StreamOf(sud), true, fin != 0);
}
int StopSending(nghttp3_conn*, int64_t sid, uint64_t code, void* ud, void*) {
  return Self(ud)->H3StopSending(sid, code);
}
int EndStream(nghttp3_conn*, int64_t sid, void* ud, void*) { return Self(ud)->H3EndStream(sid); }
int ResetStreamCb(nghttp3_conn*, int64_t sid, uint64_t code, void* ud, void*) {
  return Self(ud)->H3ResetStream(sid, code);
}
int Shutdown(nghttp3_conn*, int64_t id, void* ud) { return Self(ud)->H3Shutdown(id); }

nghttp3_ssize ReadData(nghttp3_conn*, int64_t sid, nghttp3_vec* vec, size_t veccnt,
                       uint32_t* flags, void* ud, void* sud) {
  return Self(ud)->H3ReadData(StreamOf(sud), sid, vec, veccnt, flags);
}

const nghttp3_data_reader kReader = {ReadData};

// Flat [name, value, name, value, …] → nghttp3_nv pointing into the strings (nghttp3 copies).
std::vector<nghttp3_nv> ToNv(const std::vector<std::string>& flat) {
  std::vector<nghttp3_nv> nva;
  nva.reserve(flat.size() / 2);
  for (size_t i = 0; i + 1 < flat.size(); i += 2) {
    nghttp3_nv nv;
    nv.name = reinterpret_cast<uint8_t*>(const_cast<char*>(flat[i].data()));
    nv.namelen = flat[i].size();
    nv.value = reinterpret_cast<uint8_t*>(const_cast<char*>(flat[i + 1].data()));
    nv.valuelen = flat[i + 1].size();
    nv.flags = NGHTTP3_NV_FLAG_NONE;
    nva.push_back(nv);
  }
  return nva;
}

}  // namespace

int Connection::SetupHttp3() {
  nghttp3_callbacks cb;
  memset(&cb, 0, sizeof(cb));
  cb.acked_stream_data = AckedStreamData;
  cb.stream_close = StreamClose;
  cb.recv_data = RecvData;
  cb.deferred_consume = DeferredConsume;
  cb.begin_headers = BeginHeaders;
  cb.recv_header = RecvHeader;
  cb.end_headers = EndHeaders;
  cb.begin_trailers = BeginHeaders;
  cb.recv_trailer = RecvHeader;
  cb.end_trailers = EndTrailers;
  cb.stop_sending = StopSending;
  cb.end_stream = EndStream;
  cb.reset_stream = ResetStreamCb;
  cb.shutdown = Shutdown;
  nghttp3_settings settings;
  nghttp3_settings_default(&settings);
  settings.qpack_max_dtable_capacity = 4096;
  settings.qpack_blocked_streams = 100;
  // Extended CONNECT (RFC 9220) for WebSocket between proxies.
  settings.enable_connect_protocol = server_ ? 1 : 0;
  int rv = server_ ? nghttp3_conn_server_new(&h3_, &cb, &settings, nullptr, this)
                   : nghttp3_conn_client_new(&h3_, &cb, &settings, nullptr, this);
  if (rv != 0) return rv;
  if (server_) {
    nghttp3_conn_set_max_client_streams_bidi(h3_, endpoint_->settings().maxStreamsBidi);
  }
  // RFC 9114 §6.2.1 control stream, RFC 9204 §4.2 encoder and decoder streams.
  int64_t ctrl, qenc, qdec;
  if ((rv = ngtcp2_conn_open_uni_stream(conn_, &ctrl, nullptr)) != 0) return rv;
  if ((rv = nghttp3_conn_bind_control_stream(h3_, ctrl)) != 0) return rv;
  if ((rv = ngtcp2_conn_open_uni_stream(conn_, &qenc, nullptr)) != 0) return rv;
  if ((rv = ngtcp2_conn_open_uni_stream(conn_, &qdec, nullptr)) != 0) return rv;
  return nghttp3_conn_bind_qpack_streams(h3_, qenc, qdec);
}

int Connection::OnHandshakeCompleted() {
  gnutls_datum_t alpn;
  if (gnutls_alpn_get_selected_protocol(tls_, &alpn) != 0 ||
      std::string(reinterpret_cast<char*>(alpn.data), alpn.size) != endpoint_->tls()->alpn()) {
    ngtcp2_connection_close_error_set_transport_error(&ccerr_, NGTCP2_CRYPTO_ERROR | 120, nullptr, 0);
    ccerrSet_ = true;
    closeReason_ = "peer did not agree on ALPN " + endpoint_->tls()->alpn();
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
  if (h3_ == nullptr && SetupHttp3() != 0) {
    SetAppError(NGHTTP3_H3_INTERNAL_ERROR, "HTTP/3 set-up failed");
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
  state_ = kOpen;
  // A server's handshake is confirmed when it completes; a client waits for HANDSHAKE_DONE
  // (RFC 9001 §4.1.2), which also tells it that the server accepted its certificate.
  if (server_) Expose();
  return 0;
}

int Connection::OnHandshakeConfirmed() {
  if (!server_) Expose();
  return 0;
}

void Connection::Expose() {
  if (exposed_) return;
  exposed_ = true;
  Event ev{kEventHandshake, id_, -1, 0, 0, {tlsState_.check.peerIdentity, endpoint_->tls()->alpn(), tlsState_.check.peerChainHex}, {}};
  endpoint_->Push(std::move(ev));
  endpoint_->MarkDirty(this);
}

int Connection::OnRecvStreamData(uint32_t flags, int64_t sid, const uint8_t* data, size_t len) {
  if (h3_ == nullptr && SetupHttp3() != 0) {
    SetAppError(NGHTTP3_H3_INTERNAL_ERROR, "HTTP/3 set-up failed");
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
  nghttp3_ssize consumed =
      nghttp3_conn_read_stream(h3_, sid, data, len, (flags & NGTCP2_STREAM_DATA_FLAG_FIN) != 0);
  if (consumed < 0) {
    SetAppError(nghttp3_err_infer_quic_app_error_code(static_cast<int>(consumed)),
                std::string("HTTP/3: ") + nghttp3_strerror(static_cast<int>(consumed)));
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
  // Framing bytes are credited now; body bytes when JS has taken them (DataDelivered).
  CreditStream(sid, static_cast<uint64_t>(consumed));
  CreditConnection(static_cast<uint64_t>(consumed));
  return 0;
}

int Connection::OnAckedStreamData(int64_t sid, uint64_t len) {
  if (h3_ != nullptr && nghttp3_conn_add_ack_offset(h3_, sid, len) != 0) {
    SetAppError(NGHTTP3_H3_INTERNAL_ERROR, "HTTP/3 ack offset");
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
  return 0;
}

int Connection::OnStreamClose(uint32_t flags, int64_t sid, uint64_t code) {
  if ((flags & NGTCP2_STREAM_CLOSE_FLAG_APP_ERROR_CODE_SET) == 0) code = NGHTTP3_H3_NO_ERROR;
  lostStreamPackets_ += ngtcp2_conn_get_stream_loss_count(conn_, sid);
  ForgetOwedFin(sid);
  if (h3_ != nullptr) {
    int rv = nghttp3_conn_close_stream(h3_, sid, code);
    if (rv != 0 && rv != NGHTTP3_ERR_STREAM_NOT_FOUND) {
      SetAppError(nghttp3_err_infer_quic_app_error_code(rv), "HTTP/3 stream close");
      return NGTCP2_ERR_CALLBACK_FAILURE;
    }
  }
  // The peer may open one more request stream for each one that closed (RFC 9000 §4.6).
  if (!ngtcp2_conn_is_local_stream(conn_, sid) && ngtcp2_is_bidi_stream(sid)) {
    ngtcp2_conn_extend_max_streams_bidi(conn_, 1);
  }
  return 0;
}

int Connection::OnStreamReset(int64_t sid, uint64_t code, bool stopSending) {
  if (h3_ != nullptr && !stopSending) nghttp3_conn_shutdown_stream_read(h3_, sid);
  Stream* s = FindStream(sid);
  if (s == nullptr) return 0;
  if (s->splice) {
    // The tunnel is over both ways: our side of the stream is reset too, and the socket closed.
    char hex[24];
    snprintf(hex, sizeof(hex), "0x%llx", static_cast<unsigned long long>(code));
    EndSplice(s, false, std::string(stopSending ? "the peer stopped reading the stream" : "the peer reset the stream") +
                            " (HTTP/3 code " + hex + ")");
    ResetStream(sid, NGHTTP3_H3_REQUEST_CANCELLED);
    return 0;
  }
  if (!s->dropBody) Queue(kEventReset, sid, code, stopSending ? 1 : 0);
  return 0;
}

int Connection::OnExtendMaxStreamData(int64_t sid) {
  if (h3_ != nullptr && nghttp3_conn_unblock_stream(h3_, sid) != 0) {
    SetAppError(NGHTTP3_H3_INTERNAL_ERROR, "HTTP/3 unblock");
    return NGTCP2_ERR_CALLBACK_FAILURE;
  }
  return 0;
}

int Connection::OnExtendMaxLocalStreams() {
  if (exposed_) Queue(kEventStreamsAvailable, -1);
  return 0;
}

Stream* Connection::FindStream(int64_t sid) {
  auto it = streams_.find(sid);
  return it == streams_.end() ? nullptr : it->second.get();
}

void Connection::CreditStream(int64_t sid, uint64_t n) {
  if (n == 0) return;
  ngtcp2_conn_extend_max_stream_offset(conn_, sid, n);
  endpoint_->MarkDirty(this);
}

void Connection::CreditConnection(uint64_t n) {
  if (n == 0) return;
  ngtcp2_conn_extend_max_offset(conn_, n);
  endpoint_->MarkDirty(this);
}

int Connection::H3AckedData(int64_t sid, uint64_t len) {
  Stream* s = FindStream(sid);
  if (s == nullptr) return 0;
  s->queued -= std::min(s->queued, len);
  while (len > 0 && !s->chunks.empty()) {
    size_t left = s->chunks.front().size() - s->frontAcked;
    if (len >= left) {
      len -= left;
      s->chunks.pop_front();
      if (s->handedChunks > 0) --s->handedChunks;
      s->frontAcked = 0;
    } else {
      s->frontAcked += static_cast<size_t>(len);
      len = 0;
    }
  }
  if (s->wantDrain && s->queued <= endpoint_->settings().sendHighWater / 2) {
    s->wantDrain = false;
    Queue(kEventDrain, sid);
  }
  if (s->splice) s->splice->OnBodyTaken();
  return 0;
}

int Connection::H3StreamClose(int64_t sid, uint64_t code) {
  auto it = streams_.find(sid);
  if (it == streams_.end()) return 0;
  if (it->second->splice) {
    char hex[24];
    snprintf(hex, sizeof(hex), "0x%llx", static_cast<unsigned long long>(code));
    EndSplice(it->second.get(), code == NGHTTP3_H3_NO_ERROR, std::string("the stream was reset (HTTP/3 code ") + hex + ")");
  }
  Queue(kEventStreamClose, sid, code);
  streams_.erase(it);
  if (closeWhenIdle_) endpoint_->MarkDirty(this);
  return 0;
}

int Connection::H3RecvData(Stream* s, int64_t sid, const uint8_t* data, size_t len) {
  if (s != nullptr && s->splice) {
    // Connection credit at once (one slow socket never stalls other streams); the stream's
    // own once the bytes are in the socket (QuicSplice::CreditPeer).
    CreditConnection(len);
    s->splice->OnPeerData(data, len);
    return 0;
  }
  if (s == nullptr || s->dropBody) {
    CreditStream(sid, len);
    CreditConnection(len);
    return 0;
  }
  // Append to this stream's chunk if it is still waiting in the queue: one JS call per batch of
  // datagrams rather than one per STREAM frame.
  auto& events = endpoint_->events();
  for (size_t i = events.size(), seen = 0; i > 0 && seen < 16; --i, ++seen) {
    Event& ev = events[i - 1];
    if (ev.conn != id_ || ev.stream != sid) continue;
    if (ev.kind == kEventData) {
      ev.data.insert(ev.data.end(), data, data + len);
      return 0;
    }
    break;
  }
  Event ev{kEventData, id_, sid, 0, 0, {}, std::vector<uint8_t>(data, data + len)};
  endpoint_->Push(std::move(ev));
  endpoint_->MarkDirty(this);
  return 0;
}

int Connection::H3DeferredConsume(int64_t sid, size_t consumed) {
  CreditStream(sid, consumed);
  CreditConnection(consumed);
  return 0;
}

int Connection::H3BeginHeaders(int64_t sid, Stream* s) {
  if (s == nullptr) {
    // A new request stream from the client (RFC 9114 §4.1).
    auto owned = std::make_unique<Stream>();
    owned->id = sid;
    s = owned.get();
    streams_[sid] = std::move(owned);
    nghttp3_conn_set_stream_user_data(h3_, sid, s);
  }
  s->rxHeaders.clear();
  return 0;
}

int Connection::H3RecvHeader(Stream* s, nghttp3_rcbuf* name, nghttp3_rcbuf* value) {
  if (s == nullptr) return 0;
  nghttp3_vec n = nghttp3_rcbuf_get_buf(name);
  nghttp3_vec v = nghttp3_rcbuf_get_buf(value);
  s->rxHeaders.emplace_back(reinterpret_cast<char*>(n.base), n.len);
  s->rxHeaders.emplace_back(reinterpret_cast<char*>(v.base), v.len);
  return 0;
}

int Connection::H3EndHeaders(int64_t sid, Stream* s, bool trailers, bool fin) {
  if (s == nullptr) return 0;
  if (s->dropBody) {
    s->rxHeaders.clear();
    return 0;
  }
  if (s->splice && !trailers && !server_) {
    // The answer to a spliced CONNECT: 2xx starts the splice, 1xx waits, anything else refuses.
    const std::string* status = nullptr;
    for (size_t i = 0; i + 1 < s->rxHeaders.size(); i += 2) {
      if (s->rxHeaders[i] == ":status") status = &s->rxHeaders[i + 1];
    }
    bool informational = status != nullptr && !status->empty() && (*status)[0] == '1';
    if (status != nullptr && status->size() == 3 && (*status)[0] == '2') {
      if (!s->splice->deferStart()) s->splice->Start();
    } else if (!informational) {
      s->splice->RefusedByPeer(status == nullptr ? "" : *status);
    }
  }
  Event ev{kEventHeaders, id_, sid, 0, (trailers ? 1 : 0) | (fin ? 2 : 0), std::move(s->rxHeaders), {}};
  s->rxHeaders.clear();
  endpoint_->Push(std::move(ev));
  endpoint_->MarkDirty(this);
  return 0;
}

int Connection::H3EndStream(int64_t sid) {
  Stream* s = FindStream(sid);
  if (s == nullptr || s->dropBody) return 0;
  if (s->splice) s->splice->OnPeerEnd();
  else Queue(kEventEnd, sid);
  return 0;
}

int Connection::H3StopSending(int64_t sid, uint64_t code) {
  ngtcp2_conn_shutdown_stream_read(conn_, sid, code);
  return 0;
}

int Connection::H3ResetStream(int64_t sid, uint64_t code) {
  ngtcp2_conn_shutdown_stream_write(conn_, sid, code);
  return 0;
}

int Connection::H3Shutdown(int64_t id) {
  Queue(kEventGoaway, -1, static_cast<uint64_t>(id));
  return 0;
}

nghttp3_ssize Connection::H3ReadData(Stream* s, int64_t sid, nghttp3_vec* vec, size_t veccnt,
                                     uint32_t* flags) {
  if (s == nullptr) {
    *flags |= NGHTTP3_DATA_FLAG_EOF;
    return 0;
  }
  size_t n = 0;
  while (n < veccnt && s->handedChunks < s->chunks.size()) {
    std::vector<uint8_t>& chunk = s->chunks[s->handedChunks++];
    vec[n].base = chunk.data();
    vec[n].len = chunk.size();
    ++n;
  }
  if (n == 0 && !s->ended) {
    s->blocked = true;
    return NGHTTP3_ERR_WOULDBLOCK;
  }
  if (s->ended && s->handedChunks == s->chunks.size()) {
    *flags |= NGHTTP3_DATA_FLAG_EOF;
    if (!s->trailers.empty()) {
      // RFC 9114 §4.1: a trailer section ends the message instead of the DATA frames.
      *flags |= NGHTTP3_DATA_FLAG_NO_END_STREAM;
      std::vector<nghttp3_nv> nva = ToNv(s->trailers);
      int rv = nghttp3_conn_submit_trailers(h3_, sid, nva.data(), nva.size());
      s->trailers.clear();
      if (rv != 0) return NGHTTP3_ERR_CALLBACK_FAILURE;
    }
  }
  return static_cast<nghttp3_ssize>(n);
}

int64_t Connection::SubmitRequest(const std::vector<std::string>& headers, bool endStream,
                                  std::string* error) {
  if (h3_ == nullptr || state_ != kOpen || closeWhenIdle_) {
    *error = "session is not open";
    return -1;
  }
  int64_t sid;
  int rv = ngtcp2_conn_open_bidi_stream(conn_, &sid, nullptr);
  if (rv == NGTCP2_ERR_STREAM_ID_BLOCKED) return -2;
  if (rv != 0) {
    *error = std::string("open stream: ") + ngtcp2_strerror(rv);
    return -1;
  }
  auto owned = std::make_unique<Stream>();
  Stream* s = owned.get();
  s->id = sid;
  s->bodyProvider = !endStream;
  s->ended = endStream;
  std::vector<nghttp3_nv> nva = ToNv(headers);
  rv = nghttp3_conn_submit_request(h3_, sid, nva.data(), nva.size(), endStream ? nullptr : &kReader, s);
  if (rv != 0) {
    *error = std::string("submit request: ") + nghttp3_strerror(rv);
    ngtcp2_conn_shutdown_stream(conn_, sid, NGHTTP3_H3_INTERNAL_ERROR);
    return -1;
  }
  streams_[sid] = std::move(owned);
  endpoint_->MarkDirty(this);
  return sid;
}

int Connection::SubmitResponse(int64_t sid, const std::vector<std::string>& headers,
                               bool endStream, std::string* error) {
  Stream* s = FindStream(sid);
  if (h3_ == nullptr || s == nullptr || state_ != kOpen) {
    *error = "stream is gone";
    return -1;
  }
  s->bodyProvider = !endStream;
  s->ended = endStream;
  std::vector<nghttp3_nv> nva = ToNv(headers);
  int rv = nghttp3_conn_submit_response(h3_, sid, nva.data(), nva.size(), endStream ? nullptr : &kReader);
  if (rv != 0) {
    *error = std::string("submit response: ") + nghttp3_strerror(rv);
    return -1;
  }
  endpoint_->MarkDirty(this);
  return 0;
}

bool Connection::Write(int64_t sid, const uint8_t* data, size_t len) {
  Stream* s = FindStream(sid);
  if (s == nullptr || s->ended || state_ != kOpen) return true;
  if (len > 0) {
    s->chunks.emplace_back(data, data + len);
    s->queued += len;
    if (s->blocked && s->bodyProvider) {
      s->blocked = false;
      nghttp3_conn_resume_stream(h3_, sid);
    }
    endpoint_->MarkDirty(this);
  }
  if (s->queued >= endpoint_->settings().sendHighWater) {
    s->wantDrain = true;
    return false;
  }
  return true;
}

void Connection::End(int64_t sid, std::vector<std::string>* trailers) {
  Stream* s = FindStream(sid);
  if (s == nullptr || s->ended || state_ != kOpen) return;
  s->ended = true;
  if (trailers != nullptr) s->trailers = std::move(*trailers);
  if (s->bodyProvider) {
    s->blocked = false;
    nghttp3_conn_resume_stream(h3_, sid);
  }
  endpoint_->MarkDirty(this);
}

void Connection::DataDelivered(int64_t sid, size_t len, bool wantMore) {
  if (state_ != kOpen) return;
  // Connection-level credit goes back at once so one slow reader cannot stall the other
  // streams; the stream's own window is what holds that reader's sender back.
  CreditConnection(len);
  Stream* s = FindStream(sid);
  if (s == nullptr) return;
  if (wantMore && !s->readPaused) {
    CreditStream(sid, len);
  } else {
    s->readPaused = true;
    s->uncredited += len;
  }
}

void Connection::ResumeRead(int64_t sid) {
  Stream* s = FindStream(sid);
  if (s == nullptr || state_ != kOpen) return;
  s->readPaused = false;
  uint64_t n = s->uncredited;
  s->uncredited = 0;
  CreditStream(sid, n);
}

void Connection::ResetStream(int64_t sid, uint64_t code) {
  if (state_ != kOpen) return;
  if (h3_ != nullptr) nghttp3_conn_shutdown_stream_write(h3_, sid);
  ngtcp2_conn_shutdown_stream(conn_, sid, code);
  endpoint_->MarkDirty(this);
}

void Connection::FinalGoaway() {
  goawayAt_ = 0;
  nghttp3_conn_shutdown(h3_);
  closeWhenIdle_ = true;
  endpoint_->MarkDirty(this);
}

void Connection::Close(uint64_t code, bool graceful) {
  if (state_ == kClosing || state_ == kDraining || state_ == kDead) return;
  if (graceful && state_ == kOpen && h3_ != nullptr) {
    if (closeWhenIdle_ || goawayAt_ != 0) return;  // already going away
    if (server_) {
      // RFC 9114 §5.2: a first GOAWAY with the largest stream ID (the shutdown notice), then
      // the final one at least one round trip later, so requests the client sent before it saw
      // the notice are still accepted. The final GOAWAY goes out from OnTimer.
      nghttp3_conn_submit_shutdown_notice(h3_);
      ngtcp2_conn_stat cs;
      ngtcp2_conn_get_conn_stat(conn_, &cs);
      // smoothed RTT + 4 × rttvar: a round trip even when this one is slower than usual.
      uint64_t wait = std::max<uint64_t>(cs.smoothed_rtt + 4 * cs.rttvar, NGTCP2_MILLISECONDS);
      goawayAt_ = NowNs() + wait;
      endpoint_->MarkDirty(this);  // sends the notice; ScheduleTimer arms the timer for goawayAt_
      return;
    }
    // RFC 9114 §5.2: GOAWAY first, the open requests finish, then CONNECTION_CLOSE.
    FinalGoaway();
    return;
  }
  if (state_ == kOpen) {
    SetAppError(code, "closed locally");
  } else if (!ccerrSet_) {
    ngtcp2_connection_close_error_set_transport_error(&ccerr_, NGTCP2_APPLICATION_ERROR, nullptr, 0);
    ccerrSet_ = true;
    closeReason_ = "closed locally";
  }
  StartClosing();
}

// --- splices -----------------------------------------------------------------------------------

void Connection::EndSplice(Stream* s, bool clean, const std::string& why) {
  if (!s->splice) return;
  if (!clean) s->dropBody = true;
  s->splice.release()->OnStreamClosed(clean, why);
}

void Connection::EndAllSplices(const std::string& why) {
  for (auto& entry : streams_) EndSplice(entry.second.get(), false, why);
}

uint64_t Connection::QueueSpliced(Stream* s, std::vector<uint8_t>&& bytes) {
  if (s->ended || state_ != kOpen || bytes.empty()) return s->queued;
  s->queued += bytes.size();
  s->chunks.push_back(std::move(bytes));
  if (s->blocked && s->bodyProvider) {
    s->blocked = false;
    nghttp3_conn_resume_stream(h3_, s->id);
  }
  endpoint_->MarkDirty(this);
  return s->queued;
}

bool Connection::SpliceFd(int64_t sid, int fd, std::vector<uint8_t>&& initial, uint64_t idleMs,
                          SpliceStartMode start, std::vector<uint8_t>&& toSocket, std::string* error) {
  Stream* s = FindStream(sid);
  bool fits = start == kStartNow || !server_;
  if (s == nullptr || state_ != kOpen || !fits || !s->bodyProvider || s->ended || s->splice) {
    *error = "no open CONNECT stream " + std::to_string(sid);
    return false;
  }
  s->splice = std::make_unique<QuicSplice>(this, s, idleMs, endpoint_->settings().sendHighWater);
  int rv = s->splice->AdoptFd(fd, std::move(initial));
  if (rv != 0) {
    *error = std::string("cannot adopt the socket: ") + uv_strerror(rv);
    s->splice.release()->OnStreamClosed(false, *error);
    return false;
  }
  // Bytes JS held back (a paused reader) are the splice's now: credit them to the peer.
  s->readPaused = false;
  CreditStream(sid, s->uncredited);
  s->uncredited = 0;
  if (start == kStartOnJs) s->splice->DeferStart();
  if (start == kStartNow) s->splice->Start(std::move(toSocket));
  return true;
}

bool Connection::SpliceStart(int64_t sid, std::vector<uint8_t>&& toSocket) {
  Stream* s = FindStream(sid);
  if (s == nullptr || !s->splice) return false;
  s->splice->Start(std::move(toSocket));
  return true;
}

bool Connection::SpliceConnect(int64_t sid, const sockaddr* target, uint64_t connectMs, uint64_t idleMs,
                               std::string* error) {
  Stream* s = FindStream(sid);
  if (s == nullptr || state_ != kOpen || !server_ || s->splice) {
    *error = "no open CONNECT stream " + std::to_string(sid);
    return false;
  }
  s->readPaused = false;
  CreditStream(sid, s->uncredited);
  s->uncredited = 0;
  s->splice = std::make_unique<QuicSplice>(this, s, idleMs, endpoint_->settings().sendHighWater);
  s->splice->ConnectTo(target, connectMs);
  return true;
}

}  // namespace meshgate
