// Argument helpers shared by both addons' JS methods (header-only: each addon compiles its own).
#pragma once

#include <cstdint>
#include <vector>

#include <napi.h>

namespace meshgate {

// The bytes of argument `i` when it is a Buffer / Uint8Array; empty otherwise (null, missing).
inline std::vector<uint8_t> BytesArg(const Napi::CallbackInfo& info, size_t i) {
  std::vector<uint8_t> out;
  if (info.Length() > i && info[i].IsTypedArray()) {
    Napi::Uint8Array b = info[i].As<Napi::Uint8Array>();
    out.assign(b.Data(), b.Data() + b.ByteLength());
  }
  return out;
}

}  // namespace meshgate
