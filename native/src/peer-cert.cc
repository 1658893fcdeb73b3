// Mutual TLS against one CA: the peer-certificate check both addons share.
#include "peer-cert.h"

#include <gnutls/x509.h>

namespace meshgate {

gnutls_datum_t Datum(const std::string& s) {
  gnutls_datum_t d;
  d.data = reinterpret_cast<unsigned char*>(const_cast<char*>(s.data()));
  d.size = static_cast<unsigned int>(s.size());
  return d;
}

// The DER of each certificate in hex, joined by ',' (ASCII, so it crosses into JS as a string).
static std::string ChainHex(const gnutls_datum_t* certs, unsigned int count) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < count; ++i) {
    if (i > 0) out.push_back(',');
    for (unsigned int j = 0; j < certs[i].size; ++j) {
      out.push_back(kDigits[certs[i].data[j] >> 4]);
      out.push_back(kDigits[certs[i].data[j] & 0x0f]);
    }
  }
  return out;
}

int VerifyPeerCertificate(gnutls_session_t session, PeerCheck* check) {
  unsigned int count = 0;
  const gnutls_datum_t* certs = gnutls_certificate_get_peers(session, &count);
  if (certs == nullptr || count == 0) {
    if (check->server && !check->requirePeerCert) return 0;
    check->verifyError = "peer sent no certificate";
    return GNUTLS_E_CERTIFICATE_ERROR;
  }
  unsigned int status = 0;
  int rv = gnutls_certificate_verify_peers3(session, nullptr, &status);
  if (rv < 0) {
    check->verifyError = std::string("certificate verification failed: ") + gnutls_strerror(rv);
    return GNUTLS_E_CERTIFICATE_ERROR;
  }
  if (status != 0) {
    gnutls_datum_t out;
    if (gnutls_certificate_verification_status_print(status, GNUTLS_CRT_X509, &out, 0) == 0) {
      check->verifyError.assign(reinterpret_cast<char*>(out.data), out.size);
      gnutls_free(out.data);
    } else {
      check->verifyError = "peer certificate is not trusted";
    }
    return GNUTLS_E_CERTIFICATE_VERIFICATION_ERROR;
  }
  check->peerIdentity = CertificateUriSan(&certs[0]);
  if (check->server) check->peerChainHex = ChainHex(certs, count);
  if (!check->expectedIdentity.empty() && check->peerIdentity != check->expectedIdentity) {
    check->verifyError = "peer identity " + (check->peerIdentity.empty() ? std::string("(none)")
                                                                          : check->peerIdentity) +
                         " is not the expected " + check->expectedIdentity;
    return GNUTLS_E_CERTIFICATE_ERROR;
  }
  return 0;
}

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

}  // namespace meshgate
