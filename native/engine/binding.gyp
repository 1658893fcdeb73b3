# meshgate_engine: the native h2 data path (nghttp2 + GnuTLS on libuv) and its HTTP/1 parser
# (llhttp). Built by native/build.mjs only when pkg-config finds libnghttp2 and gnutls and
# Debian's node-llhttp sources are installed (llhttp_dir, llhttp_include; MESHGATE_LLHTTP_DIR and
# MESHGATE_LLHTTP_INCLUDE override them, here and in native/build.mjs).
# MESHGATE_SANITIZE=1 in the environment builds with ASan + UBSan (CI's second build).
{
  "variables": {
    "sanitize%": "<!(node -p \"process.env.MESHGATE_SANITIZE === '1' ? 1 : 0\")",
    "llhttp_dir%": "<!(node -p \"process.env.MESHGATE_LLHTTP_DIR || '/usr/share/llhttp'\")",
    "llhttp_include%": "<!(node -p \"process.env.MESHGATE_LLHTTP_INCLUDE || '/usr/share/include/llhttp'\")"
  },
  "target_defaults": {
    "conditions": [
      ["sanitize==1", {
        "cflags": ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-fno-sanitize-recover=undefined"],
        "ldflags": ["-fsanitize=address,undefined"]
      }]
    ]
  },
  "targets": [
    {
      # llhttp's C sources, compiled into the addon with hidden symbols: node exports its own
      # llhttp (another version, other struct layouts), and the addon's calls must bind to this
      # copy, not to node's.
      "target_name": "llhttp",
      "type": "static_library",
      "sources": ["src/llhttp-llhttp.c", "src/llhttp-api.c", "src/llhttp-http.c"],
      "include_dirs": ["<(llhttp_include)", "<(llhttp_dir)"],
      "cflags": ["-O2", "-fPIC", "-fvisibility=hidden", "-Wno-unused-parameter"],
      "direct_dependent_settings": { "include_dirs": ["<(llhttp_include)"] }
    },
    {
      "target_name": "meshgate_engine",
      "dependencies": ["llhttp"],
      "sources": [
        "src/addon.cc",
        "src/engine.cc",
        "src/session.cc",
        "src/splice.cc",
        "src/http1-parser.cc",
        "src/http1-parser-wrap.cc",
        "src/app-http1.cc",
        "src/app-h2c.cc",
        "src/workload-h2c.cc",
        "src/http1-fields.cc",
        "src/http1-response.cc",
        "src/workload-http1.cc",
        "../src/socket-splice.cc",
        "src/original-dst.cc",
        "src/memory-relief.cc",
        "../src/peer-cert.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": [
        "-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers",
        "<!@(pkg-config --cflags libnghttp2 gnutls)"
      ],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "libraries": ["<!@(pkg-config --libs libnghttp2 gnutls)"]
    }
  ]
}
