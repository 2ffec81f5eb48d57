// Diagnostics: record what a context reports instead of printing it, so that
// an error diagnostic never reaches LLVMContext's default `exit(1)`.
#include "common.h"
#include "llvm/IR/DiagnosticInfo.h"
#include "llvm/IR/DiagnosticPrinter.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Function.h"
#include "llvm/Support/Regex.h"
#include "llvm/Support/raw_ostream.h"
#include <optional>
#include <deque>
#include <mutex>

using namespace llvm;

namespace {
// One recorded diagnostic. Optimization remarks also carry their pass and
// function, so a caller can filter them without parsing text.
struct Recorded {
  int severity;
  std::string message;
  std::string pass;
  std::string function;
};

// One decision of the inliner, from its remark: what `explain` reports.
struct InlineDecision {
  bool inlined;
  std::string name;
  std::string caller;
  std::string callee;
  std::string cost;
  std::string threshold;
  std::string reason;
};

bool isInlinerPass(StringRef pass) { return pass == "inline" || pass == "always-inline"; }

// Marks our handler: a context may carry LLVM's default handler or one that
// someone else installed, and only ours may be read as a RecordingHandler.
char RecordingTag;

struct RecordingHandler final : DiagnosticHandler {
  RecordingHandler() : DiagnosticHandler(&RecordingTag) {}
  std::mutex lock;
  // Errors are drained after every step (they fail it); the rest accumulate
  // until the caller collects them, so draining errors never loses a warning.
  std::deque<Recorded> errors;
  std::deque<Recorded> others;
  // Remarks of passes whose name matches are recorded; without a pattern,
  // none are (LLVM then does not even build them).
  std::optional<Regex> remarks;
  // The inliner's decisions are kept apart (for explain) when asked for,
  // whether or not its remarks are.
  bool recordInlining = false;
  std::deque<InlineDecision> inlining;

  bool remarkEnabled(StringRef pass) const {
    return (remarks && remarks->match(pass)) || (recordInlining && isInlinerPass(pass));
  }
  bool isAnalysisRemarkEnabled(StringRef pass) const override { return remarkEnabled(pass); }
  bool isMissedOptRemarkEnabled(StringRef pass) const override { return remarkEnabled(pass); }
  bool isPassedOptRemarkEnabled(StringRef pass) const override { return remarkEnabled(pass); }
  bool isAnyRemarkEnabled() const override { return remarks.has_value() || recordInlining; }

  // Keeps an inliner remark's decision; whether the remark itself is
  // recorded too is for the caller to decide.
  void recordInlineDecision(const DiagnosticInfoOptimizationBase &remark) {
    InlineDecision decision{remark.getKind() == DK_OptimizationRemark, remark.getRemarkName().str(),
                            {}, {}, {}, {}, {}};
    for (const auto &arg : remark.getArgs()) {
      if (arg.Key == "Caller")
        decision.caller = arg.Val;
      else if (arg.Key == "Callee")
        decision.callee = arg.Val;
      else if (arg.Key == "Cost")
        decision.cost = arg.Val;
      else if (arg.Key == "Threshold")
        decision.threshold = arg.Val;
      else if (arg.Key == "Reason")
        decision.reason = arg.Val;
    }
    std::lock_guard<std::mutex> guard(lock);
    inlining.push_back(std::move(decision));
  }

  bool handleDiagnostics(const DiagnosticInfo &info) override {
    Recorded entry{static_cast<int>(info.getSeverity()), {}, {}, {}};
    // isa/dyn_cast use the diagnostic kind, not RTTI.
    if (auto *remark = dyn_cast<DiagnosticInfoOptimizationBase>(&info)) {
      if (recordInlining && isInlinerPass(remark->getPassName())) {
        recordInlineDecision(*remark);
        if (!remarks || !remarks->match(remark->getPassName()))
          return true;
      }
      entry.message = remark->getMsg();
      entry.pass = remark->getPassName().str();
      // Every optimization remark is a DiagnosticInfoWithLocationBase.
      entry.function = remark->getFunction().getName().str();
    } else {
      raw_string_ostream os(entry.message);
      DiagnosticPrinterRawOStream printer(os);
      info.print(printer);
      os.flush();
    }
    std::lock_guard<std::mutex> guard(lock);
    (info.getSeverity() == DS_Error ? errors : others).push_back(std::move(entry));
    return true;
  }
};

// The context's recording handler, or null when it has another one (LLVM's
// default, or a handler set through the C API). LLVM is built without RTTI,
// so the handler is recognized by the tag it carries as its context.
RecordingHandler *recordingHandler(LLVMContextRef ctx) {
  const DiagnosticHandler *handler = unwrap(ctx)->getDiagHandlerPtr();
  if (!handler || handler->DiagnosticContext != &RecordingTag)
    return nullptr;
  return static_cast<RecordingHandler *>(const_cast<DiagnosticHandler *>(handler));
}
} // namespace

extern "C" int ltoe_context_install_diagnostics(LLVMContextRef ctx, const char *remark_pattern,
                                                char **err) {
  auto handler = std::make_unique<RecordingHandler>();
  if (remark_pattern) {
    Regex pattern(remark_pattern);
    std::string error;
    if (!pattern.isValid(error))
      return ltoe::fail("invalid remark pattern '" + std::string(remark_pattern) + "': " + error,
                        err);
    handler->remarks.emplace(std::move(pattern));
  }
  // Respect filters: remarks nobody asked for are not recorded.
  unwrap(ctx)->setDiagnosticHandler(std::move(handler), true);
  return 0;
}

extern "C" int ltoe_context_pop_diagnostic(LLVMContextRef ctx, int errors_only, int *severity,
                                           char **message, char **pass, char **function) {
  RecordingHandler *handler = recordingHandler(ctx);
  if (!handler)
    return 0;
  std::lock_guard<std::mutex> guard(handler->lock);
  auto &queue = errors_only ? handler->errors : handler->others;
  if (queue.empty())
    return 0;
  Recorded front = std::move(queue.front());
  queue.pop_front();
  *severity = front.severity;
  *message = ltoe::dupString(front.message);
  *pass = front.pass.empty() ? nullptr : ltoe::dupString(front.pass);
  *function = front.function.empty() ? nullptr : ltoe::dupString(front.function);
  return 1;
}

extern "C" int ltoe_context_record_inlining(LLVMContextRef ctx) {
  RecordingHandler *handler = recordingHandler(ctx);
  if (!handler)
    return 1;
  handler->recordInlining = true;
  return 0;
}

// Records: u8 inlined, then strings remark name, caller, callee, cost,
// threshold, reason ("" when the remark has no such argument).
extern "C" void ltoe_context_take_inlining(LLVMContextRef ctx, LtoeBuffer **out) {
  auto buffer = std::make_unique<LtoeBuffer>();
  if (RecordingHandler *handler = recordingHandler(ctx)) {
    std::lock_guard<std::mutex> guard(handler->lock);
    for (const InlineDecision &decision : handler->inlining) {
      ltoe::put<uint8_t>(buffer->data, decision.inlined ? 1 : 0);
      for (const std::string *text : {&decision.name, &decision.caller, &decision.callee,
                                      &decision.cost, &decision.threshold, &decision.reason})
        ltoe::putString(buffer->data, *text);
    }
    handler->inlining.clear();
  }
  *out = buffer.release();
}

extern "C" void ltoe_string_free(char *s) { std::free(s); }

extern "C" const uint8_t *ltoe_buffer_data(const LtoeBuffer *b) {
  return reinterpret_cast<const uint8_t *>(b->data.data());
}

extern "C" size_t ltoe_buffer_len(const LtoeBuffer *b) { return b->data.size(); }

extern "C" void ltoe_buffer_free(LtoeBuffer *b) { delete b; }

// Optimization remarks written to a file, as lld's --opt-remarks-filename
// does for each LTO task: the context streams every remark (of the passes
// matching `passes`, when given) to `filename` in `format` ("yaml",
// "bitstream", or "" for YAML) until ltoe_remarks_finish.
#include "llvm/IR/LLVMRemarkStreamer.h"
#include "llvm/Support/ToolOutputFile.h"

struct LtoeRemarksFile {
  LLVMRemarkFileHandle handle;
};

extern "C" int ltoe_remarks_start(LLVMContextRef ctx, const char *filename, const char *passes,
                                  const char *format, int with_hotness, int threshold_auto,
                                  uint64_t threshold, void **out, char **err) {
  *out = nullptr;
  std::optional<uint64_t> hotnessThreshold;
  if (!threshold_auto)
    hotnessThreshold = threshold;
  auto file =
      setupLLVMOptimizationRemarks(*unwrap(ctx), filename, passes ? passes : "",
                                   format ? format : "", with_hotness != 0, hotnessThreshold);
  if (!file) {
    *err = ltoe::dupString(toString(file.takeError()));
    return 1;
  }
  *out = new LtoeRemarksFile{std::move(*file)};
  return 0;
}

extern "C" void ltoe_remarks_finish(void *remarks) {
  auto *file = static_cast<LtoeRemarksFile *>(remarks);
  // Finalize first (the streamer leaves the context), then keep the file.
  file->handle.finalize();
  if (file->handle)
    file->handle->keep();
  delete file;
}

// lld's note on a function its regular LTO leaves out of the merged module
// because the index's liveness finds it dead (LTO::linkRegularLTO): the same
// remark, pass "lto", name "deadfunction", emitted on `name` in `module`
// (which is merged already here: the optimizer drops the function later).
// Returns 0 when the module has no definition of a function of that name.
#include "llvm/Analysis/OptimizationRemarkEmitter.h"
#include "llvm/IR/Module.h"

extern "C" int ltoe_emit_dead_function_remark(LLVMModuleRef module, const char *name) {
  Function *function = unwrap(module)->getFunction(name);
  if (!function || function->isDeclaration())
    return 0;
  OptimizationRemarkEmitter emitter(function);
  emitter.emit(OptimizationRemark("lto", "deadfunction", function)
               << ore::NV("Function", function) << " not added to the combined module ");
  return 1;
}
