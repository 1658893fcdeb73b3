// meshgate_quic: Node-API entry point. Exports the Endpoint class (endpoint.h) and the versions
// of the C libraries the addon was linked against.
#include <gnutls/gnutls.h>
#include <napi.h>
#include <nghttp3/nghttp3.h>
#include <ngtcp2/ngtcp2.h>

#include "endpoint.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("Endpoint", meshgate::Endpoint::Init(env));
  Napi::Object versions = Napi::Object::New(env);
  versions.Set("ngtcp2", ngtcp2_version(0)->version_str);
  versions.Set("nghttp3", nghttp3_version(0)->version_str);
  versions.Set("gnutls", gnutls_check_version(nullptr));
  exports.Set("versions", versions);
  return exports;
}

}  // namespace

NODE_API_MODULE(meshgate_quic, Init)
