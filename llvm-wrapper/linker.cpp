// Fat LTO steps: one Linker for every input, the restriction pass, cost.
#include "common.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/IR/Module.h"
#include "llvm/Linker/Linker.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/Transforms/IPO/Internalize.h"
#include "llvm/Transforms/IPO/WholeProgramDevirt.h"

using namespace llvm;

struct LtoeLinker {
  Linker linker;
  explicit LtoeLinker(Module &dest) : linker(dest) {}
};

extern "C" LtoeLinker *ltoe_linker_new(LLVMModuleRef dest) {
  return new LtoeLinker(*unwrap(dest));
}

extern "C" int ltoe_linker_link(LtoeLinker *linker, LLVMModuleRef src) {
  std::unique_ptr<Module> module(unwrap(src));
  // linkInModule returns true on error; the reason goes to the context's
  // diagnostic handler, which the Rust side drains.
  return linker->linker.linkInModule(std::move(module)) ? 1 : 0;
}

extern "C" void ltoe_linker_free(LtoeLinker *linker) { delete linker; }

extern "C" int ltoe_internalize(LLVMModuleRef moduleRef, const char *const *preserved,
                                size_t preservedCount, LtoeBuffer **internalized,
                                char **err) {
  Module &module = *unwrap(moduleRef);
  StringSet<> keep;
  for (size_t i = 0; i < preservedCount; ++i)
    keep.insert(preserved[i]);
  auto names = std::make_unique<LtoeBuffer>();
  internalizeModule(module, [&](const GlobalValue &value) {
    if (keep.contains(value.getName()))
      return true;
    names->data.append(value.getName().data(), value.getName().size());
    names->data.push_back('\0');
    return false;
  });
  (void)err;
  *internalized = names.release();
  return 0;
}

extern "C" size_t ltoe_weaken_linkonce(LLVMModuleRef moduleRef, const char *const *names,
                                       size_t count) {
  Module &module = *unwrap(moduleRef);
  size_t weakened = 0;
  for (size_t i = 0; i < count; ++i) {
    GlobalValue *value = module.getNamedValue(names[i]);
    if (!value || value->isDeclaration() || !value->hasLinkOnceLinkage())
      continue;
    value->setLinkage(GlobalValue::getWeakLinkage(value->hasLinkOnceODRLinkage()));
    ++weakened;
  }
  return weakened;
}

extern "C" void ltoe_update_vcall_visibility(LLVMModuleRef moduleRef, int wholeProgramVisibility,
                                             const char *const *visible, size_t visibleCount) {
  Module &module = *unwrap(moduleRef);
  // What code outside the LTO unit may see (native objects, shared
  // libraries, the preserved list): its vtables keep public visibility, so
  // their calls are not devirtualized. Without linker resolutions for dynamic
  // exports, every visible symbol counts as one, the conservative choice.
  StringSet<> visibleNames;
  DenseSet<GlobalValue::GUID> dynamicExports;
  for (size_t i = 0; i < visibleCount; ++i) {
    visibleNames.insert(visible[i]);
    dynamicExports.insert(GlobalValue::getGUIDAssumingExternalLinkage(visible[i]));
  }
  auto isVisibleToRegularObj = [&](StringRef name) { return visibleNames.contains(name); };
  // As LTO::runRegularLTO, before the lto<O> pipeline runs its
  // WholeProgramDevirt pass.
  updateVCallVisibilityInModule(module, wholeProgramVisibility != 0, dynamicExports,
                                /*ValidateAllVtablesHaveTypeInfos=*/false,
                                isVisibleToRegularObj);
  updatePublicTypeTestCalls(module, wholeProgramVisibility != 0);
}

extern "C" uint64_t ltoe_module_instruction_count(LLVMModuleRef module) {
  return unwrap(module)->getInstructionCount();
}
