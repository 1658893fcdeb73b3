# meshgate_quic: the QUIC/HTTP/3 addon (ngtcp2 + ngtcp2_crypto_gnutls + nghttp3 + GnuTLS).
# Built by native/build.mjs only when pkg-config finds the Debian -dev packages.
# MESHGATE_SANITIZE=1 in the environment builds with ASan + UBSan (native/sanitize.sh).
{
  "variables": { "sanitize%": "<!(node -p \"process.env.MESHGATE_SANITIZE === '1' ? 1 : 0\")" },
  "targets": [
    {
      "target_name": "meshgate_quic",
      "sources": [
        "src/addon.cc",
        "src/endpoint.cc",
        "src/connection.cc",
        "src/h3session.cc",
        "src/tls.cc",
        "src/peer-cert.cc",
        "src/socket-splice.cc",
        "src/quic-splice.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": [
        "-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers",
        "<!@(pkg-config --cflags libngtcp2 libngtcp2_crypto_gnutls libnghttp3 gnutls)"
      ],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "libraries": ["<!@(pkg-config --libs libngtcp2 libngtcp2_crypto_gnutls libnghttp3 gnutls)"],
      "conditions": [
        ["sanitize==1", {
          "cflags_cc": ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined"],
          "ldflags": ["-fsanitize=address,undefined"]
        }]
      ]
    }
  ]
}
