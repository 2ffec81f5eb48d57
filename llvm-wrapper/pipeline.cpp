// The regular LTO pipeline (lto<O>) as LLVM's PassBuilder builds it: its
// list of top-level passes, and a run of the whole pipeline or of one side
// of a cut in it. The Rust side picks the cut (fat.rs); this file only
// knows how to stop before a top-level pass and how to start at one.
#include "common.h"
#include "pipeline_setup.h"

#include "llvm/ADT/Any.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/PassInstrumentation.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Passes/StandardInstrumentations.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm-c/Core.h"

using namespace llvm;

namespace {

// Skips the optional passes on one side of a cut between top-level passes
// (an index into the pipeline's top-level list), as LLVM's own opt-bisect
// does: through the instrumentation's should-run callback, so every pass
// object is the one PassBuilder made, with its parameters. Passes LLVM
// marks required (pass-manager adaptors, the verifier, analysis requests,
// coroutine lowering, sanitizers) run on both sides; each of them is
// idempotent.
class CutSkipper {
public:
  CutSkipper(PassInstrumentationCallbacks &callbacks, int part, unsigned cut)
      : part(part), cut(cut) {
    skipping = part == LTOE_PIPELINE_FROM_CUT ? cut > 0 : cut == 0;
    callbacks.registerShouldRunOptionalPassCallback(
        [this](StringRef, Any) { return !skipping; });
    callbacks.registerBeforeSkippedPassCallback([this](StringRef, Any ir) { before(ir, false); });
    callbacks.registerBeforeNonSkippedPassCallback(
        [this](StringRef, Any ir) { before(ir, true); });
    callbacks.registerAfterPassCallback(
        [this](StringRef, Any ir, const PreservedAnalyses &) { after(ir); });
  }

private:
  // Module passes nest (an inliner wrapper runs a module pipeline of its
  // own); only those at depth 0 are the pipeline's top-level list.
  static bool isModule(const Any &ir) { return any_cast<const Module *>(&ir) != nullptr; }

  void before(const Any &ir, bool runs) {
    if (!isModule(ir))
      return;
    if (depth == 0) {
      ++index;
      if (!runs)
        // A skipped pass has no after-callback: its end is now.
        finished(index);
    }
    if (runs)
      ++depth;
  }

  void after(const Any &ir) {
    if (!isModule(ir) || depth == 0)
      return;
    if (--depth == 0)
      finished(index);
  }

  // Top-level pass `done` is over: the next one is on the other side of
  // the cut when done + 1 == cut.
  void finished(unsigned done) {
    if (done + 1 == cut)
      skipping = part != LTOE_PIPELINE_FROM_CUT;
  }

  int part;
  unsigned cut;
  bool skipping;
  unsigned depth = 0;
  // The top-level pass under way; the first is 0.
  unsigned index = static_cast<unsigned>(-1);
};
} // namespace

extern "C" int ltoe_lto_pipeline_text(LLVMTargetMachineRef tmRef, int level, int vectorize,
                                      LtoeBuffer **out, char **err) {
  OptimizationLevel optLevel;
  if (!ltoe::optimizationLevel(level, optLevel))
    return ltoe::fail("unknown optimization level code " + std::to_string(level), err);
  TargetMachine *tm = reinterpret_cast<TargetMachine *>(tmRef);
  PassInstrumentationCallbacks callbacks;
  PassBuilder builder(tm, ltoe::tuningFor(vectorize), std::nullopt, &callbacks);
  ModulePassManager passes = builder.buildLTODefaultPipeline(optLevel, nullptr);
  std::string text;
  raw_string_ostream os(text);
  passes.printPipeline(os, [&](StringRef className) {
    StringRef name = callbacks.getPassNameForClassName(className);
    return name.empty() ? className : name;
  });
  os.flush();
  *out = new LtoeBuffer{std::move(text)};
  return 0;
}

extern "C" int ltoe_lto_optimize(LLVMModuleRef moduleRef, LLVMTargetMachineRef tmRef, int level,
                                 int vectorize, int part, unsigned cut, char **err) {
  OptimizationLevel optLevel;
  if (!ltoe::optimizationLevel(level, optLevel))
    return ltoe::fail("unknown optimization level code " + std::to_string(level), err);
  if (part != LTOE_PIPELINE_WHOLE && part != LTOE_PIPELINE_BEFORE_CUT &&
      part != LTOE_PIPELINE_FROM_CUT)
    return ltoe::fail("unknown pipeline part code " + std::to_string(part), err);
  Module &module = *unwrap(moduleRef);
  TargetMachine *tm = reinterpret_cast<TargetMachine *>(tmRef);
  ltoe::PipelineSetup setup(module, tm, vectorize);
  std::optional<CutSkipper> skipper;
  if (part != LTOE_PIPELINE_WHOLE)
    skipper.emplace(setup.callbacks, part, cut);
  ModulePassManager passes = setup.builder.buildLTODefaultPipeline(optLevel, nullptr);
  passes.run(module, setup.modules);
  return 0;
}

// Why the passes after the cut must see the whole module, or null: control
// flow integrity and virtual function elimination lower type tests and drop
// virtual functions with the whole program in view (lowertypetests and
// globaldce are among the late passes), and allocation tokens are numbered
// across the module.
extern "C" const char *ltoe_whole_module_late_passes(LLVMModuleRef moduleRef) {
  Module &module = *unwrap(moduleRef);
  for (const char *intrinsic : {"llvm.type.test", "llvm.public.type.test", "llvm.type.checked.load",
                                "llvm.type.checked.load.relative"}) {
    Function *F = module.getFunction(intrinsic);
    if (F && !F->use_empty())
      return "the module has type tests (control flow integrity or whole-program "
             "devirtualization)";
  }
  if (module.getModuleFlag("Cross-DSO CFI") || module.getModuleFlag("CFI Canonical Jump Tables"))
    return "the module uses control flow integrity";
  if (module.getModuleFlag("Virtual Function Elim"))
    return "the module uses virtual function elimination";
  for (const Function &F : module)
    if (F.hasFnAttribute(Attribute::SanitizeAllocToken))
      return "the module has allocation token instrumentation";
  return nullptr;
}
