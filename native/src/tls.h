// TLS 1.3 for QUIC through GnuTLS and ngtcp2_crypto_gnutls (RFC 9001): credentials built once
// per endpoint from PEM text, one gnutls session per connection, and the certificate check that
// makes the session mutual TLS against the mesh CA and reads the peer's URI SAN (its SPIFFE ID).
#pragma once

#include <memory>
#include <string>

#include <gnutls/gnutls.h>
#include <ngtcp2/ngtcp2_crypto.h>

#include "credentials.h"
#include "peer-cert.h"

namespace meshgate {

// Per-connection TLS state. `ref` must stay the first member: ngtcp2_crypto_gnutls reads the
// session's user pointer as an ngtcp2_crypto_conn_ref*.
struct TlsSessionState {
  ngtcp2_crypto_conn_ref ref;
  PeerCheck check;
};

struct TlsOptions {
  bool server = false;
  std::string ca;    // PEM: the trust root peers must chain to
  std::string cert;  // PEM: our certificate chain
  std::string key;   // PEM: our private key
  std::string alpn = "h3";
  bool requirePeerCert = true;  // server: refuse clients without a certificate
};

class TlsContext {
 public:
  ~TlsContext();
  // Returns nullptr and sets `error` when the PEM material does not load.
  static std::unique_ptr<TlsContext> Create(const TlsOptions& options, std::string* error);

  // Creates the gnutls session of one connection and wires it to ngtcp2. `servername` (client
  // only) goes into SNI when not empty. Returns 0 or a GnuTLS error code.
  int NewSession(TlsSessionState* state, const std::string& servername, gnutls_session_t* out);

  // A context like this one (side, ALPN, client-certificate policy) with other PEM material.
  const TlsOptions& options() const { return options_; }
  const std::string& alpn() const { return options_.alpn; }
  bool server() const { return options_.server; }

 private:
  TlsContext() = default;
  TlsOptions options_;
  std::shared_ptr<Credentials> cred_;
  gnutls_priority_t priority_ = nullptr;
};

}  // namespace meshgate
