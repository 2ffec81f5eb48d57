// The target machine LTO code generation uses, with the options lld's LTO
// sets (lld/ELF/LTO.cpp createConfig): the C API's LLVMCreateTargetMachine
// starts from a bare TargetOptions, whose defaults differ from every real
// driver's (static constructors in .ctors, which no current C runtime runs;
// no address-significance table).
#include "common.h"
#include "llvm/IR/Module.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Target/TargetOptions.h"
#include "llvm/TargetParser/Triple.h"

using namespace llvm;

namespace {
// The options lld builds from codegen::InitTargetOptionsFromCodeGenFlags with
// every flag at its default, then overrides for LTO. Where lld reads the
// defaults for an empty triple (emulated TLS, TLS descriptors) the real
// triple is used, as clang does: the two agree on every ELF target lld links
// except Android and OpenBSD, where the empty triple would be wrong.
TargetOptions ltoTargetOptions(const Triple &triple, const LtoeTargetSettings &settings) {
  TargetOptions options;
  // Flag defaults that differ from TargetOptions' own.
  options.UseInitArray = true;           // !-use-ctors
  options.NoTrappingFPMath = false;      // -enable-no-trapping-fp-math
  options.AllowFPOpFusion = FPOpFusion::Standard;
  options.StackSymbolOrdering = true;
  options.UniqueSectionNames = true;
  options.XRayFunctionIndex = true;
  options.EmulatedTLS = triple.hasDefaultEmulatedTLS();
  options.EnableTLSDESC = triple.hasDefaultTLSDESC();
  options.ExceptionModel = ExceptionHandling::None; // the target's own
  options.DebuggerTuning = DebuggerKind::Default;    // the target's own
  options.ThreadModel = ThreadModel::POSIX;
  options.MCOptions = MCTargetOptions();             // X86RelaxRelocations on
  // lld's LTO overrides.
  options.EmitAddrsig = true;
  options.FunctionSections = settings.function_sections != 0;
  options.DataSections = settings.data_sections != 0;
  options.MCOptions.AsmVerbose = settings.asm_verbose != 0;
  return options;
}
} // namespace

extern "C" int ltoe_create_target_machine(const char *tripleText, const char *cpu,
                                          const char *features,
                                          const LtoeTargetSettings *settings,
                                          LLVMModuleRef moduleRef, LLVMTargetMachineRef *out,
                                          char **err) {
  *out = nullptr;
  Triple triple(tripleText);
  std::string error;
  const Target *target = TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return ltoe::fail("target " + triple.str() + " is not available in this build: " + error,
                      err);
  std::optional<Reloc::Model> reloc;
  switch (settings->reloc_model) {
  case LTOE_RELOC_PIC:
    reloc = Reloc::PIC_;
    break;
  case LTOE_RELOC_STATIC:
    reloc = Reloc::Static;
    break;
  case LTOE_RELOC_DYNAMIC_NO_PIC:
    reloc = Reloc::DynamicNoPIC;
    break;
  default:
    return ltoe::fail("unknown relocation model code " + std::to_string(settings->reloc_model),
                      err);
  }
  // As LTO's backend: the configured code model, else the module's own
  // ("Code Model" flag from -mcmodel), else the target's default.
  std::optional<CodeModel::Model> codeModel;
  switch (settings->code_model) {
  case LTOE_CODE_MODEL_DEFAULT:
    if (moduleRef)
      codeModel = unwrap(moduleRef)->getCodeModel();
    break;
  case LTOE_CODE_MODEL_TINY:
    codeModel = CodeModel::Tiny;
    break;
  case LTOE_CODE_MODEL_SMALL:
    codeModel = CodeModel::Small;
    break;
  case LTOE_CODE_MODEL_KERNEL:
    codeModel = CodeModel::Kernel;
    break;
  case LTOE_CODE_MODEL_MEDIUM:
    codeModel = CodeModel::Medium;
    break;
  case LTOE_CODE_MODEL_LARGE:
    codeModel = CodeModel::Large;
    break;
  default:
    return ltoe::fail("unknown code model code " + std::to_string(settings->code_model), err);
  }
  CodeGenOptLevel level;
  switch (settings->codegen_level) {
  case 0:
    level = CodeGenOptLevel::None;
    break;
  case 1:
    level = CodeGenOptLevel::Less;
    break;
  case 2:
    level = CodeGenOptLevel::Default;
    break;
  case 3:
    level = CodeGenOptLevel::Aggressive;
    break;
  default:
    return ltoe::fail("unknown codegen level " + std::to_string(settings->codegen_level), err);
  }
  TargetMachine *machine =
      target->createTargetMachine(triple, cpu, features, ltoTargetOptions(triple, *settings),
                                  reloc, codeModel, level);
  if (!machine)
    return ltoe::fail("cannot create a target machine for " + triple.str(), err);
  *out = reinterpret_cast<LLVMTargetMachineRef>(machine);
  return 0;
}
