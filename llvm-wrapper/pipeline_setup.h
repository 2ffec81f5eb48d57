// The pass builder and analysis managers of one pipeline run, set up once
// for every pipeline the shim runs (lto<O>, thinlto<O>): LLVM's standard
// instrumentation, every analysis registered and the proxies between the
// managers, as LLVM's LTO backend does (LTOBackend.cpp runNewPMPasses).
#pragma once

#include "llvm/IR/Module.h"
#include "llvm/IR/PassInstrumentation.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Passes/StandardInstrumentations.h"
#include "llvm/Target/TargetMachine.h"

namespace ltoe {

// The tuning of lld's LTO: loop and SLP vectorization on or off together.
inline llvm::PipelineTuningOptions tuningFor(int vectorize) {
  llvm::PipelineTuningOptions tuning;
  tuning.LoopVectorization = vectorize != 0;
  tuning.SLPVectorization = vectorize != 0;
  return tuning;
}

// Built in place (the builder and the instrumentation point into it). More
// instrumentation callbacks may be added to `callbacks` before the
// pipeline is built; they run after the standard ones.
struct PipelineSetup {
  llvm::PassInstrumentationCallbacks callbacks;
  llvm::PassBuilder builder;
  llvm::LoopAnalysisManager loops;
  llvm::FunctionAnalysisManager functions;
  llvm::CGSCCAnalysisManager sccs;
  llvm::ModuleAnalysisManager modules;
  llvm::StandardInstrumentations instrumentations;

  PipelineSetup(llvm::Module &module, llvm::TargetMachine *tm, int vectorize)
      : builder(tm, tuningFor(vectorize), std::nullopt, &callbacks),
        instrumentations(module.getContext(), /*DebugLogging=*/false, /*VerifyEach=*/false) {
    instrumentations.registerCallbacks(callbacks, &modules);
    builder.registerModuleAnalyses(modules);
    builder.registerCGSCCAnalyses(sccs);
    builder.registerFunctionAnalyses(functions);
    builder.registerLoopAnalyses(loops);
    builder.crossRegisterProxies(loops, functions, sccs, modules);
  }
  PipelineSetup(const PipelineSetup &) = delete;
  PipelineSetup &operator=(const PipelineSetup &) = delete;
};

} // namespace ltoe
