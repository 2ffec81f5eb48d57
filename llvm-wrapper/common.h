// Helpers shared by the shim's translation units.
#pragma once
#include "wrapper.h"
#include "llvm/IR/DiagnosticHandler.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/IR/GlobalValue.h"
#include "llvm/Passes/OptimizationLevel.h"
#include "llvm/Support/Error.h"
#include <cstdlib>
#include <cstring>
#include <string>

struct LtoeBuffer {
  std::string data;
};

namespace ltoe {
// A visibility as its LTOE_VISIBILITY_* code.
inline uint8_t visibilityCode(llvm::GlobalValue::VisibilityTypes visibility) {
  switch (visibility) {
  case llvm::GlobalValue::DefaultVisibility:
    return LTOE_VISIBILITY_DEFAULT;
  case llvm::GlobalValue::HiddenVisibility:
    return LTOE_VISIBILITY_HIDDEN;
  case llvm::GlobalValue::ProtectedVisibility:
    return LTOE_VISIBILITY_PROTECTED;
  }
  return LTOE_VISIBILITY_DEFAULT;
}

// For short-lived private contexts: nothing they report is wanted, and the
// default handler would print errors and exit.
struct SilentHandler final : llvm::DiagnosticHandler {
  bool handleDiagnostics(const llvm::DiagnosticInfo &) override { return true; }
};

// Copies a message into a malloc'd C string for the Rust side.
inline char *dupString(const std::string &s) {
  char *out = static_cast<char *>(std::malloc(s.size() + 1));
  if (!out)
    return nullptr;
  std::memcpy(out, s.data(), s.size());
  out[s.size()] = '\0';
  return out;
}

// Stores the message of an Error (consuming it) into *err and returns 1.
inline int fail(llvm::Error e, char **err) {
  std::string msg = llvm::toString(std::move(e));
  if (err)
    *err = dupString(msg);
  return 1;
}

// Records for the Rust side: values in native byte order, strings as a u32
// length then the bytes.
template <typename T> void put(std::string &out, T value) {
  out.append(reinterpret_cast<const char *>(&value), sizeof(T));
}

inline void putString(std::string &out, llvm::StringRef text) {
  put<uint32_t>(out, static_cast<uint32_t>(text.size()));
  out.append(text.data(), text.size());
}

// The pipeline level of an LTOE_OPT_* code; false for an unknown code.
inline bool optimizationLevel(int code, llvm::OptimizationLevel &level) {
  switch (code) {
  case LTOE_OPT_O0:
    level = llvm::OptimizationLevel::O0;
    return true;
  case LTOE_OPT_O1:
    level = llvm::OptimizationLevel::O1;
    return true;
  case LTOE_OPT_O2:
    level = llvm::OptimizationLevel::O2;
    return true;
  case LTOE_OPT_O3:
    level = llvm::OptimizationLevel::O3;
    return true;
  case LTOE_OPT_OS:
    level = llvm::OptimizationLevel::Os;
    return true;
  case LTOE_OPT_OZ:
    level = llvm::OptimizationLevel::Oz;
    return true;
  default:
    return false;
  }
}

inline int fail(const std::string &msg, char **err) {
  if (err)
    *err = dupString(msg);
  return 1;
}
} // namespace ltoe
