// TLS 1.3 for QUIC through GnuTLS (RFC 9001), mutual authentication against the mesh CA bundle.
#include "tls.h"

#include <cstring>

#include <ngtcp2/ngtcp2_crypto_gnutls.h>

namespace meshgate {

namespace {

// TLS 1.3 only, the AEADs QUIC defines packet protection for (RFC 9001 §5.3), and no middlebox
// compatibility mode, which QUIC forbids (RFC 9001 §8.4).
const char kPriority[] =
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:"
    "+CHACHA20-POLY1305:+AES-128-CCM:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:"
    "+GROUP-SECP384R1:+GROUP-SECP521R1:%DISABLE_TLS13_COMPAT_MODE";

// Called by GnuTLS on both sides once the peer's Certificate message arrived. A non-zero
// return aborts the handshake with an alert, which ngtcp2 turns into CONNECTION_CLOSE with a
// CRYPTO_ERROR code (RFC 9001 §4.8).
int VerifyPeer(gnutls_session_t session) {
  auto* state = static_cast<TlsSessionState*>(gnutls_session_get_ptr(session));
  if (state == nullptr) return GNUTLS_E_CERTIFICATE_ERROR;
  return VerifyPeerCertificate(session, &state->check);
}

}  // namespace

TlsContext::~TlsContext() {
  if (priority_ != nullptr) gnutls_priority_deinit(priority_);
}

std::unique_ptr<TlsContext> TlsContext::Create(const TlsOptions& options, std::string* error) {
  std::unique_ptr<TlsContext> ctx(new TlsContext());
  ctx->options_ = options;
  ctx->cred_ = Credentials::Load(options.ca, options.cert, options.key, VerifyPeer, error);
  if (!ctx->cred_) return nullptr;
  int rv = gnutls_priority_init(&ctx->priority_, kPriority, nullptr);
  if (rv < 0) {
    *error = std::string("gnutls priority: ") + gnutls_strerror(rv);
    return nullptr;
  }
  return ctx;
}

int TlsContext::NewSession(TlsSessionState* state, const std::string& servername,
                           gnutls_session_t* out) {
  gnutls_session_t session;
  // 0-RTT stays off (no GNUTLS_ENABLE_EARLY_DATA): the mesh never replays requests.
  unsigned int flags = (options_.server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NO_END_OF_EARLY_DATA;
  int rv = gnutls_init(&session, flags);
  if (rv < 0) return rv;
  rv = options_.server ? ngtcp2_crypto_gnutls_configure_server_session(session)
                       : ngtcp2_crypto_gnutls_configure_client_session(session);
  if (rv != 0) {
    gnutls_deinit(session);
    return GNUTLS_E_INTERNAL_ERROR;
  }
  if ((rv = gnutls_priority_set(session, priority_)) < 0 ||
      (rv = gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, cred_->get())) < 0) {
    gnutls_deinit(session);
    return rv;
  }
  gnutls_datum_t alpn = Datum(options_.alpn);
  rv = gnutls_alpn_set_protocols(session, &alpn, 1, GNUTLS_ALPN_MANDATORY);
  if (rv < 0) {
    gnutls_deinit(session);
    return rv;
  }
  state->check.server = options_.server;
  if (options_.server) {
    state->check.requirePeerCert = options_.requirePeerCert;
    gnutls_certificate_server_set_request(
        session, options_.requirePeerCert ? GNUTLS_CERT_REQUIRE : GNUTLS_CERT_REQUEST);
  } else if (!servername.empty()) {
    gnutls_server_name_set(session, GNUTLS_NAME_DNS, servername.data(), servername.size());
  }
  gnutls_session_set_ptr(session, state);
  *out = session;
  return 0;
}

}  // namespace meshgate
