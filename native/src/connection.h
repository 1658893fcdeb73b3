// One QUIC connection (ngtcp2) and the HTTP/3 session on it (nghttp3): packet in, packets out,
// its loss/idle/pacing timer, and the per-stream state that JS drives (headers, body chunks,
// trailers, flow-control credit and send buffering). connection.cc holds the QUIC half,
// h3session.cc the HTTP/3 half.
#pragma once

#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <gnutls/gnutls.h>
#include <nghttp3/nghttp3.h>
#include <ngtcp2/ngtcp2.h>
#include <ngtcp2/ngtcp2_crypto.h>
#include <sys/socket.h>
#include <uv.h>

#include "common.h"
#include "quic-splice.h"
#include "tls.h"

namespace meshgate {

// Settings shared by every connection of an endpoint (validated in JS, defaults there).
struct QuicSettings {
  uint64_t maxStreamsBidi = 100;
  uint64_t idleTimeoutMs = 30000;
  uint64_t keepAliveMs = 0;
  // A peer that has answered nothing for this long while ack-eliciting data of ours is
  // unacknowledged is taken as gone (0 = wait for the idle timeout). Like TCP_USER_TIMEOUT.
  uint64_t peerSilenceMs = 0;
  uint64_t handshakeTimeoutMs = 10000;
  uint64_t maxStreamData = 6 * 1024 * 1024;
  uint64_t maxData = 16 * 1024 * 1024;
  uint64_t sendHighWater = 2 * 1024 * 1024;
  ngtcp2_cc_algo cc = NGTCP2_CC_ALGO_CUBIC;
  bool debug = false;
};

// One HTTP/3 request stream (RFC 9114 §4.1).
struct Stream {
  int64_t id = -1;
  // Send side: JS chunks are copied here and handed to nghttp3 by reference; a chunk is freed
  // when the peer has acknowledged all of it (nghttp3 keeps pointers until then).
  std::deque<std::vector<uint8_t>> chunks;
  size_t handedChunks = 0;   // chunks (from the front) already given to nghttp3
  size_t frontAcked = 0;     // bytes of chunks.front() acknowledged
  uint64_t queued = 0;       // bytes written by JS and not yet acknowledged
  bool bodyProvider = false; // submitted with a data reader (the body is not empty)
  bool ended = false;        // JS ended the body
  bool blocked = false;      // our data reader said WOULDBLOCK; resume on new data
  bool wantDrain = false;    // JS is waiting for kEventDrain
  std::vector<std::string> trailers;
  // Receive side: body bytes given to JS but not yet credited back to the peer (held while
  // JS says its buffer is full; that is how a slow reader slows the sender down).
  uint64_t uncredited = 0;
  bool readPaused = false;
  std::vector<std::string> rxHeaders;
  // A CONNECT stream whose bytes move natively between the peer and a TCP socket.
  std::unique_ptr<QuicSplice> splice;
  bool dropBody = false;     // a splice ended in failure: the rest of the stream is dropped
};

class Connection {
 public:
  Connection(Endpoint* endpoint, uint32_t id, bool server);
  ~Connection();

  uint32_t id() const { return id_; }
  bool dead() const { return state_ == kDead; }
  bool exposed() const { return exposed_; }
  bool dirty = false;
  bool statelessReset = false;  // the peer sent a stateless reset (RFC 9000 §10.3)

  int InitClient(const sockaddr* local, socklen_t localLen, const sockaddr* remote,
                 socklen_t remoteLen, const std::string& servername,
                 const std::string& expectedIdentity, std::string* error);
  int InitServer(const ngtcp2_pkt_hd& hd, const sockaddr* local, socklen_t localLen,
                 const sockaddr* remote, socklen_t remoteLen, std::string* error);

  // A datagram for this connection (RFC 9000 §5.2).
  void OnDatagram(const ngtcp2_path& path, const uint8_t* data, size_t len);
  // Stateless reset (RFC 9000 §10.3): whether `token` is one the peer issued to us, and the
  // reaction to one (the peer has no state: drain and report).
  bool MatchesResetToken(const uint8_t* token);
  void OnStatelessReset();
  // Sends what ngtcp2 and nghttp3 have to send, then re-arms the timer.
  void WritePackets();

  // HTTP/3 operations from JS. Each returns < 0 on error and sets `error`.
  int64_t SubmitRequest(const std::vector<std::string>& headers, bool endStream, std::string* error);
  int SubmitResponse(int64_t sid, const std::vector<std::string>& headers, bool endStream,
                     std::string* error);
  // Queues body bytes; returns whether the stream's buffer is still below the high-water mark.
  bool Write(int64_t sid, const uint8_t* data, size_t len);
  void End(int64_t sid, std::vector<std::string>* trailers);
  void ResumeRead(int64_t sid);
  void ResetStream(int64_t sid, uint64_t code);
  // Graceful: GOAWAY, then CONNECTION_CLOSE once the streams are done. Abrupt: close now.
  void Close(uint64_t code, bool graceful);
  // After JS received a data event: credit the flow-control window unless JS is full.
  void DataDelivered(int64_t sid, size_t len, bool wantMore);

  // Splices (quic-splice.h): outbound hands a socket fd in; inbound connects to a target.
  bool SpliceFd(int64_t sid, int fd, std::vector<uint8_t>&& initial, uint64_t idleMs, SpliceStartMode start,
                std::vector<uint8_t>&& toSocket, std::string* error);
  bool SpliceStart(int64_t sid, std::vector<uint8_t>&& toSocket);
  bool SpliceConnect(int64_t sid, const sockaddr* target, uint64_t connectMs, uint64_t idleMs, std::string* error);
  // A splice's socket bytes onto the stream's send queue; returns the bytes queued and unacknowledged.
  uint64_t QueueSpliced(Stream* s, std::vector<uint8_t>&& bytes);

  struct Stats {
    double srttMs, minRttMs, latestRttMs;
    uint64_t cwnd, bytesInFlight, bytesSent, bytesReceived, packetsSent, packetsReceived;
    uint64_t lostStreamPackets, ptoCount, openStreams, streamsBidiLeft;
  };
  Stats GetStats();

  // Called from the C callbacks (public because they are free functions).
  int OnHandshakeCompleted();
  int OnHandshakeConfirmed();
  int OnRecvStreamData(uint32_t flags, int64_t sid, const uint8_t* data, size_t len);
  int OnAckedStreamData(int64_t sid, uint64_t len);
  int OnStreamClose(uint32_t flags, int64_t sid, uint64_t code);
  int OnStreamReset(int64_t sid, uint64_t code, bool stopSending);
  int OnExtendMaxStreamData(int64_t sid);
  int OnExtendMaxLocalStreams();
  int OnNewConnectionId(ngtcp2_cid* cid, uint8_t* token, size_t cidlen);
  int OnRemoveConnectionId(const ngtcp2_cid* cid);
  // nghttp3 side.
  int H3AckedData(int64_t sid, uint64_t len);
  int H3StreamClose(int64_t sid, uint64_t code);
  int H3RecvData(Stream* s, int64_t sid, const uint8_t* data, size_t len);
  int H3DeferredConsume(int64_t sid, size_t consumed);
  int H3BeginHeaders(int64_t sid, Stream* s);
  int H3RecvHeader(Stream* s, nghttp3_rcbuf* name, nghttp3_rcbuf* value);
  int H3EndHeaders(int64_t sid, Stream* s, bool trailers, bool fin);
  int H3EndStream(int64_t sid);
  int H3StopSending(int64_t sid, uint64_t code);
  int H3ResetStream(int64_t sid, uint64_t code);
  int H3Shutdown(int64_t id);
  nghttp3_ssize H3ReadData(Stream* s, int64_t sid, nghttp3_vec* vec, size_t veccnt, uint32_t* flags);

  ngtcp2_conn* quic() const { return conn_; }
  void OnTimer();
  void OnTimerClosed();

 private:
  enum State { kHandshaking, kOpen, kClosing, kDraining, kDead };

  int InitTls(const std::string& servername, const std::string& expectedIdentity, std::string* error);
  void InitSettings(ngtcp2_settings* settings, ngtcp2_transport_params* params);
  int SetupHttp3();
  void Expose();
  void HandleError(int liberr);
  // Sends CONNECTION_CLOSE and enters the closing period (RFC 9000 §10.2.1).
  void StartClosing();
  void EnterDraining();
  void Kill(const std::string& reason);
  void EmitClose(uint64_t code, int32_t type, const std::string& reason);
  void ScheduleTimer();
  // Graceful close: the GOAWAY that ends the connection once its requests are done.
  void FinalGoaway();
  void CreditStream(int64_t sid, uint64_t n);
  void CreditConnection(uint64_t n);
  void SetAppError(uint64_t code, const std::string& reason);
  Stream* FindStream(int64_t sid);
  // After ngtcp2_conn_writev_stream for a stream nghttp3 offered with no data and a FIN: keep
  // track of FINs that did not make it into a packet (see finOwed_).
  void NoteBareFin(int64_t sid, bool written);
  void ForgetOwedFin(int64_t sid);
  void Queue(EventKind kind, int64_t sid, uint64_t code = 0, int32_t flag = 0);
  // The stream lets go of its splice, which finishes (`clean`) or fails with `why`.
  void EndSplice(Stream* s, bool clean, const std::string& why);
  void EndAllSplices(const std::string& why);

  Endpoint* endpoint_;
  uint32_t id_;
  bool server_;
  State state_ = kHandshaking;
  bool exposed_ = false;       // JS knows this connection (handshake event sent)
  bool closeEmitted_ = false;
  bool closeWhenIdle_ = false; // graceful close waiting for streams
  // Server, graceful close: when the final GOAWAY goes out, one round trip after the shutdown
  // notice (RFC 9114 §5.2); 0 when none is pending.
  uint64_t goawayAt_ = 0;
  ngtcp2_conn* conn_ = nullptr;
  nghttp3_conn* h3_ = nullptr;
  gnutls_session_t tls_ = nullptr;
  // The context (credentials) tls_ was made from, held until after gnutls_deinit: the endpoint
  // may have swapped its own since (Endpoint::SetCredentials).
  std::shared_ptr<TlsContext> tlsContext_;
  TlsSessionState tlsState_;
  ngtcp2_connection_close_error ccerr_;
  bool ccerrSet_ = false;
  std::string closeReason_;
  std::vector<uint8_t> closePacket_;
  uv_timer_t timer_;
  sockaddr_storage local_{};
  socklen_t localLen_ = 0;
  sockaddr_storage remote_{};
  socklen_t remoteLen_ = 0;
  std::vector<std::string> cids_;  // routing keys registered with the endpoint
  std::unordered_map<int64_t, std::unique_ptr<Stream>> streams_;
  uint64_t bytesSent_ = 0, bytesReceived_ = 0, packetsSent_ = 0, packetsReceived_ = 0;
  // Since when data of ours has been in flight with no packet from the peer (0: none waiting).
  uint64_t unansweredSinceNs_ = 0;
  uint64_t lostStreamPackets_ = 0;
  // Streams whose FIN nghttp3 offered without data (the body's end came in its own call, after
  // every byte was handed over) and ngtcp2 could not put in a packet (congestion window full).
  // libnghttp3 0.8 may not offer it again: the FIN is an empty entry in its send queue, and
  // nghttp3_conn_add_ack_offset pops that entry as acknowledged once the ACK for the bytes
  // before it arrives, even though it was never written; the stream then has nothing left and is
  // unscheduled. WritePackets sends these FINs itself (a zero-length STREAM frame with FIN at
  // the stream's final size, RFC 9000 §19.8) before asking nghttp3 for more.
  std::vector<int64_t> finOwed_;

  friend class Endpoint;
  friend class QuicSplice;
};

}  // namespace meshgate
