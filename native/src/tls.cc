// TLS 1.3 for QUIC through GnuTLS (RFC 9001), mutual authentication against one CA.
#include "tls.h"

#include <cstring>

#include <gnutls/x509.h>
#include <ngtcp2/ngtcp2_crypto_gnutls.h>

namespace meshgate {

namespace {

// TLS 1.3 only, the AEADs QUIC defines packet protection for (RFC 9001 §5.3), and no middlebox
// compatibility mode, which QUIC forbids (RFC 9001 §8.4).
const char kPriority[] =
    "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:"
    "+CHACHA20-POLY1305:+AES-128-CCM:-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:"
    "+GROUP-SECP384R1:+GROUP-SECP521R1:%DISABLE_TLS13_COMPAT_MODE";

gnutls_datum_t Datum(const std::string& s) {
  gnutls_datum_t d;
  d.data = reinterpret_cast<unsigned char*>(const_cast<char*>(s.data()));
  d.size = static_cast<unsigned int>(s.size());
  return d;
}

// Called by GnuTLS on both sides once the peer's Certificate message arrived. A non-zero
// return aborts the handshake with an alert, which ngtcp2 turns into CONNECTION_CLOSE with a
// CRYPTO_ERROR code (RFC 9001 §4.8).
int VerifyPeer(gnutls_session_t session) {
  auto* state = static_cast<TlsSessionState*>(gnutls_session_get_ptr(session));
  if (state == nullptr) return GNUTLS_E_CERTIFICATE_ERROR;
  unsigned int count = 0;
  const gnutls_datum_t* certs = gnutls_certificate_get_peers(session, &count);
  if (certs == nullptr || count == 0) {
    if (state->server && !state->requirePeerCert) return 0;
    state->verifyError = "peer sent no certificate";
    return GNUTLS_E_CERTIFICATE_ERROR;
  }
  unsigned int status = 0;
  int rv = gnutls_certificate_verify_peers3(session, nullptr, &status);
  if (rv < 0) {
    state->verifyError = std::string("certificate verification failed: ") + gnutls_strerror(rv);
    return GNUTLS_E_CERTIFICATE_ERROR;
  }
  if (status != 0) {
    gnutls_datum_t out;
    if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &out, 0) == 0) {
      state->verifyError.assign(reinterpret_cast<char*>(out.data), out.size);
      gnutls_free(out.data);
    } else {
      state->verifyError = "peer certificate is not trusted";
    }
    return GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR;
  }
  state->peerIdentity = CertificateUriSan(&certs[0]);
  if (!state->expectedIdentity.empty() && state->peerIdentity != state->expectedIdentity) {
    state->verifyError = "peer identity " + (state->peerIdentity.empty() ? std::string("(none)")
                                                                          : state->peerIdentity) +
                         " is not the expected " + state->expectedIdentity;
    return GNUTLS_E_CERTIFICATE_ERROR;
  }
  return 0;
}

}  // namespace

std::string CertificateUriSan(const gnutls_datum_t* der) {
  gnutls_x509_crt_t crt;
  if (gnutls_x509_crt_init(&crt) < 0) return "";
  std::string first;
  std::string spiffe;
  if (gnutls_x509_crt_import(crt, der, GNUTLS_X509_FMT_DER) >= 0) {
    for (unsigned int seq = 0;; ++seq) {
      char buf[1024];
      size_t size = sizeof(buf);
      unsigned int critical = 0;
      int type = gnutls_x509_crt_get_subject_alt_name(crt, seq, buf, &size, &critical);
      if (type == GNUTLS_E_SHORT_MEMORY_BUFFER) continue;
      if (type < 0) break;
      if (type != GNUTLS_SAN_URI) continue;
      std::string uri(buf, size);
      if (first.empty()) first = uri;
      if (spiffe.empty() && uri.rfind("spiffe://", 0) == 0) spiffe = uri;
    }
  }
  gnutls_x509_crt_deinit(crt);
  return spiffe.empty() ? first : spiffe;
}

TlsContext::~TlsContext() {
  if (priority_ != nullptr) gnutls_priority_deinit(priority_);
  if (cred_ != nullptr) gnutls_certificate_free_credentials(cred_);
}

std::unique_ptr<TlsContext> TlsContext::Create(const TlsOptions& options, std::string* error) {
  std::unique_ptr<TlsContext> ctx(new TlsContext());
  ctx->options_ = options;
  int rv = gnutls_certificate_allocate_credentials(&ctx->cred_);
  if (rv < 0) {
    *error = std::string("gnutls credentials: ") + gnutls_strerror(rv);
    return nullptr;
  }
  if (!options.ca.empty()) {
    gnutls_datum_t ca = Datum(options.ca);
    rv = gnutls_certificate_set_x509_trust_mem(ctx->cred_, &ca, GNUTLS_X509_FMT_PEM);
    if (rv <= 0) {
      *error = std::string("ca: no certificate loaded") + (rv < 0 ? std::string(": ") + gnutls_strerror(rv) : "");
      return nullptr;
    }
  }
  if (!options.cert.empty() || !options.key.empty()) {
    gnutls_datum_t cert = Datum(options.cert);
    gnutls_datum_t key = Datum(options.key);
    rv = gnutls_certificate_set_x509_key_mem(ctx->cred_, &cert, &key, GNUTLS_X509_FMT_PEM);
    if (rv < 0) {
      *error = std::string("cert/key: ") + gnutls_strerror(rv);
      return nullptr;
    }
  }
  gnutls_certificate_set_verify_function(ctx->cred_, VerifyPeer);
  rv = gnutls_priority_init(&ctx->priority_, kPriority, nullptr);
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
      (rv = gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, cred_)) < 0) {
    gnutls_deinit(session);
    return rv;
  }
  gnutls_datum_t alpn = Datum(options_.alpn);
  rv = gnutls_alpn_set_protocols(session, &alpn, 1, GNUTLS_ALPN_MANDATORY);
  if (rv < 0) {
    gnutls_deinit(session);
    return rv;
  }
  state->server = options_.server;
  if (options_.server) {
    state->requirePeerCert = options_.requirePeerCert;
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
