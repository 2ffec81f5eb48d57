// Diagnostics: record what a context reports instead of printing it, so that
// an error diagnostic never reaches LLVMContext's default `exit(1)`.
#include "common.h"
#include "llvm/IR/DiagnosticInfo.h"
#include "llvm/IR/DiagnosticPrinter.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/Support/raw_ostream.h"
#include <deque>
#include <mutex>

using namespace llvm;

namespace {
struct RecordingHandler final : DiagnosticHandler {
  std::mutex lock;
  std::deque<std::pair<int, std::string>> recorded;

  bool handleDiagnostics(const DiagnosticInfo &info) override {
    std::string text;
    raw_string_ostream os(text);
    DiagnosticPrinterRawOStream printer(os);
    info.print(printer);
    os.flush();
    std::lock_guard<std::mutex> guard(lock);
    recorded.emplace_back(static_cast<int>(info.getSeverity()), std::move(text));
    return true;
  }
};
} // namespace

extern "C" void ltoe_context_install_diagnostics(LLVMContextRef ctx) {
  LLVMContext &context = *unwrap(ctx);
  // Respect filters: remarks nobody asked for are not recorded.
  context.setDiagnosticHandler(std::make_unique<RecordingHandler>(), true);
}

extern "C" int ltoe_context_pop_diagnostic(LLVMContextRef ctx, int *severity, char **message) {
  LLVMContext &context = *unwrap(ctx);
  // The handler was installed by us; LLVM is built without RTTI for users, so
  // the cast is static and guarded by the install call on the Rust side.
  auto *handler = static_cast<RecordingHandler *>(
      const_cast<DiagnosticHandler *>(context.getDiagHandlerPtr()));
  if (!handler)
    return 0;
  std::lock_guard<std::mutex> guard(handler->lock);
  if (handler->recorded.empty())
    return 0;
  auto front = std::move(handler->recorded.front());
  handler->recorded.pop_front();
  *severity = front.first;
  *message = ltoe::dupString(front.second);
  return 1;
}

extern "C" void ltoe_string_free(char *s) { std::free(s); }

extern "C" const uint8_t *ltoe_buffer_data(const LtoeBuffer *b) {
  return reinterpret_cast<const uint8_t *>(b->data.data());
}

extern "C" size_t ltoe_buffer_len(const LtoeBuffer *b) { return b->data.size(); }

extern "C" void ltoe_buffer_free(LtoeBuffer *b) { delete b; }
