# meshgate_engine: the native h2 data path (nghttp2 + GnuTLS on libuv).
# Built by native/build.mjs only when pkg-config finds libnghttp2 and gnutls.
# MESHGATE_SANITIZE=1 in the environment builds with ASan + UBSan (CI's second build).
{
  "variables": { "sanitize%": "<!(node -p \"process.env.MESHGATE_SANITIZE === '1' ? 1 : 0\")" },
  "targets": [
    {
      "target_name": "meshgate_engine",
      "sources": [
        "src/addon.cc",
        "src/engine.cc",
        "src/session.cc",
        "src/splice.cc",
        "../src/socket-splice.cc",
        "src/original-dst.cc",
        "../src/peer-cert.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": [
        "-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers",
        "<!@(pkg-config --cflags libnghttp2 gnutls)"
      ],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "libraries": ["<!@(pkg-config --libs libnghttp2 gnutls)"],
      "conditions": [
        ["sanitize==1", {
          "cflags_cc": ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined"],
          "ldflags": ["-fsanitize=address,undefined"]
        }]
      ]
    }
  ]
}
