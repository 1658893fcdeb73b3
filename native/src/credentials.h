// Refcounted GnuTLS certificate credentials, shared by both addons (the QUIC endpoint and the h2
// engine). A listener's credentials can be swapped at run time (identity rotation): new
// handshakes take the current ones, and every TLS session holds a reference to the ones it was
// set up with, because gnutls_credentials_set() keeps only a pointer (the GnuTLS manual: the
// credentials must stay valid for the session's lifetime). The last reference frees them.
#pragma once

#include <memory>
#include <string>

#include <gnutls/gnutls.h>

#include "peer-cert.h"

namespace meshgate {

class Credentials {
 public:
  ~Credentials() {
    if (cred_ != nullptr) gnutls_certificate_free_credentials(cred_);
  }
  Credentials(const Credentials&) = delete;
  Credentials& operator=(const Credentials&) = delete;

  // Loads the trust root(s) `ca` (a PEM bundle: every certificate in it is trusted), the chain
  // `cert` and its `key`, and installs `verify` as the peer check. Empty strings skip a part.
  // Returns nullptr with `error` set ("ca: ...", "cert/key: ...") when something does not load.
  static std::shared_ptr<Credentials> Load(const std::string& ca, const std::string& cert,
                                           const std::string& key,
                                           gnutls_certificate_verify_function* verify,
                                           std::string* error) {
    std::shared_ptr<Credentials> out(new Credentials());
    int rv = gnutls_certificate_allocate_credentials(&out->cred_);
    if (rv < 0) {
      out->cred_ = nullptr;
      *error = std::string("credentials: ") + gnutls_strerror(rv);
      return nullptr;
    }
    if (!ca.empty()) {
      gnutls_datum_t d = Datum(ca);
      rv = gnutls_certificate_set_x509_trust_mem(out->cred_, &d, GNUTLS_X509_FMT_PEM);
      if (rv <= 0) {
        *error = std::string("ca: no certificate loaded") + (rv < 0 ? std::string(": ") + gnutls_strerror(rv) : "");
        return nullptr;
      }
    }
    if (!cert.empty() || !key.empty()) {
      gnutls_datum_t c = Datum(cert);
      gnutls_datum_t k = Datum(key);
      rv = gnutls_certificate_set_x509_key_mem(out->cred_, &c, &k, GNUTLS_X509_FMT_PEM);
      if (rv < 0) {
        *error = std::string("cert/key: ") + gnutls_strerror(rv);
        return nullptr;
      }
    }
    gnutls_certificate_set_verify_function(out->cred_, verify);
    return out;
  }

  gnutls_certificate_credentials_t get() const { return cred_; }

 private:
  Credentials() = default;
  gnutls_certificate_credentials_t cred_ = nullptr;
};

}  // namespace meshgate
