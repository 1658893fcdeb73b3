// The peer-certificate check shared by both addons (QUIC in native/src, the h2 engine in
// native/engine): the chain against the mesh CA, the peer's URI SAN (its SPIFFE ID), and the
// expected identity when the caller named one.
#pragma once

#include <string>

#include <gnutls/gnutls.h>

namespace meshgate {

// What one handshake asks of the peer's certificate, and what the check found.
struct PeerCheck {
  bool server = false;
  bool requirePeerCert = true;   // server: refuse clients without a certificate
  std::string expectedIdentity;  // refuse unless the peer's URI SAN equals it (empty: any)
  std::string peerIdentity;      // the peer certificate's URI SAN, once verified
  std::string peerChainHex;      // server: the chain the peer presented, once verified: the DER
                                 // of each certificate in hex, leaf first, joined by ','
  std::string verifyError;       // why the peer certificate was refused
};

// Verifies the peer's chain (gnutls_certificate_verify_peers3) and identity; a server also keeps
// the presented chain (peerChainHex) so the core can tell which of its roots the chain leads to.
// Returns 0, or a GnuTLS error code with `check->verifyError` set; call it from a certificate
// verify function.
int VerifyPeerCertificate(gnutls_session_t session, PeerCheck* check);

// The URI SAN of a DER certificate (the first `spiffe://` one, else the first URI), or "".
std::string CertificateUriSan(const gnutls_datum_t* der);

// A GnuTLS datum viewing `s` (no copy; `s` must outlive it).
gnutls_datum_t Datum(const std::string& s);

}  // namespace meshgate
