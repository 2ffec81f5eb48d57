// ThinLTO steps: the combined summary index (thin link) and the per-module
// backend steps. Each function is one LLVM step; the Rust side decides which
// copy prevails, what is preserved, and the order of the steps.
#include "pipeline_setup.h"
#include "thin_index.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/Support/BLAKE3.h"
#include "llvm/IR/GlobalValue.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/ModuleSummaryIndex.h"
#include "llvm/LTO/Config.h"
#include "llvm/LTO/LTO.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Passes/StandardInstrumentations.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm/Transforms/IPO/FunctionAttrs.h"
#include "llvm/Transforms/IPO/FunctionImport.h"
#include "llvm/Transforms/IPO/WholeProgramDevirt.h"
#include "llvm/Transforms/Utils/FunctionImportUtils.h"
#include <map>
#include <memory>
#include <set>
#include <vector>

using namespace llvm;

namespace {
MemoryBufferRef bufferRef(const char *data, size_t len, StringRef name = "") {
  return MemoryBufferRef(StringRef(data, len), name);
}

// The linkage class (LTOE_LINKAGE_* of wrapper.h) the Rust side chooses
// prevailing copies by. Appending variables (llvm.global_ctors, llvm.used,
// ...) are concatenated by the IR linker and by code generation, never
// resolved: every module keeps its own, as in LLVM's LTO, where the IR
// symbol table leaves llvm.* names out of symbol resolution.
int classify(GlobalValue::LinkageTypes linkage) {
  if (GlobalValue::isAppendingLinkage(linkage))
    return LTOE_LINKAGE_APPENDING;
  if (GlobalValue::isLocalLinkage(linkage))
    return LTOE_LINKAGE_LOCAL;
  if (GlobalValue::isAvailableExternallyLinkage(linkage))
    return LTOE_LINKAGE_AVAILABLE_EXTERNALLY;
  if (GlobalValue::isWeakForLinker(linkage))
    return LTOE_LINKAGE_WEAK;
  return LTOE_LINKAGE_STRONG;
}

// The summaries defined by the module a backend works on. Fails when the
// module's identifier is not in the index: the steps below would otherwise
// work on an empty map (thinLTOInternalizeModule crashes on one).
const GVSummaryMapTy *definedGlobalsFor(const LtoeThinIndex *thin, const Module &module,
                                        char **err) {
  StringRef id = module.getModuleIdentifier();
  auto it = thin->definedPerModule.find(thin->modulePath(id));
  if (thin->modulePath(id).empty() || it == thin->definedPerModule.end()) {
    ltoe::fail("module identifier '" + id.str() + "' is not in the ThinLTO index", err);
    return nullptr;
  }
  return &it->second;
}

// As LTO's backend decides it: on ELF, position-independent code that is not
// a PIE must not assume declarations are dso_local.
bool clearDSOLocalOnDeclarations(const Module &module, LLVMTargetMachineRef tmRef) {
  const TargetMachine *tm = reinterpret_cast<const TargetMachine *>(tmRef);
  return tm->getTargetTriple().isOSBinFormatELF() &&
         tm->getRelocationModel() != Reloc::Static &&
         module.getPIELevel() == PIELevel::Default;
}
} // namespace

extern "C" int ltoe_bitcode_lto_info(const char *data, size_t len, size_t which,
                                     int *hasSummary, int *isThin, int *splitLtoUnit,
                                     char **err) {
  auto modules = getBitcodeModuleList(bufferRef(data, len));
  if (!modules)
    return ltoe::fail(modules.takeError(), err);
  if (which >= modules->size())
    return ltoe::fail("bitcode holds " + std::to_string(modules->size()) +
                          " modules, no module #" + std::to_string(which),
                      err);
  auto info = (*modules)[which].getLTOInfo();
  if (!info)
    return ltoe::fail(info.takeError(), err);
  *hasSummary = info->HasSummary ? 1 : 0;
  *isThin = info->IsThinLTO ? 1 : 0;
  *splitLtoUnit = info->EnableSplitLTOUnit ? 1 : 0;
  return 0;
}

extern "C" LtoeThinIndex *ltoe_thin_index_new(void) { return new LtoeThinIndex(); }

extern "C" void ltoe_thin_index_free(LtoeThinIndex *thin) { delete thin; }

extern "C" int ltoe_thin_index_add(LtoeThinIndex *thin, const char *data, size_t len,
                                   size_t which, const char *moduleId, char **err) {
  if (thin->ordinals.count(moduleId))
    return ltoe::fail(std::string("module identifier '") + moduleId +
                          "' is already in the index",
                      err);
  auto stored = std::make_unique<std::string>(moduleId);
  StringRef id = *stored;
  auto modules = getBitcodeModuleList(bufferRef(data, len, id));
  if (!modules)
    return ltoe::fail(modules.takeError(), err);
  if (which >= modules->size())
    return ltoe::fail("no module #" + std::to_string(which) + " in the bitcode", err);
  BitcodeModule module = (*modules)[which];
  // Reading with the identifier we give makes it the module path of every
  // summary, which is what the backend looks modules up by.
  if (Error e = module.readSummary(thin->index, id))
    return ltoe::fail(std::move(e), err);
  // getModule asserts (and without assertions reads past the table) when
  // a malformed summary did not register the module: look it up instead.
  auto info = thin->index.modulePaths().find(id);
  if (info == thin->index.modulePaths().end())
    return ltoe::fail("the module's summary does not register the module (malformed summary)",
                      err);
  ltoe::fillMissingModuleHash(info->second, data, len);
  thin->ordinals[id] = static_cast<uint32_t>(thin->moduleIds.size());
  thin->modules.emplace(id.str(), module);
  thin->moduleIds.push_back(std::move(stored));
  return 0;
}

extern "C" int ltoe_thin_index_stable_promotion_names(LtoeThinIndex *thin,
                                                     const char *const *ids,
                                                     const char *const *seeds, size_t count,
                                                     char **err) {
  // The rename step names a promoted local `<name>.llvm.<first 64 bits of
  // the module hash>`: by content, so any edit of a module renames every
  // local it exports, and each importer of one must be recompiled. A hash
  // of a seed that names the module (unique within the link, the same from
  // one link to the next) keeps the names across edits; the content hashes
  // stay for cache keys.
  for (size_t i = 0; i < count; ++i) {
    auto info = thin->index.modulePaths().find(ids[i]);
    if (info == thin->index.modulePaths().end())
      return ltoe::fail(std::string("module identifier '") + ids[i] +
                            "' is not in the ThinLTO index",
                        err);
    if (thin->contentHashes.count(ids[i]))
      continue;
    thin->contentHashes[ids[i]] = info->second;
    std::string seed = std::string("lto-engine promotion names") + '\0' + seeds[i];
    auto digest = BLAKE3::hash<sizeof(ModuleHash)>(arrayRefFromStringRef(seed));
    std::memcpy(info->second.data(), digest.data(), sizeof(ModuleHash));
  }
  return 0;
}

extern "C" void ltoe_thin_index_content_hash(const LtoeThinIndex *thin, const char *moduleId,
                                             uint8_t out[20]) {
  ModuleHash hash = thin->contentHash(thin->modulePath(moduleId));
  std::memcpy(out, hash.data(), sizeof(ModuleHash));
}

extern "C" int ltoe_thin_index_definitions(const LtoeThinIndex *thin, LtoeBuffer **out,
                                           char **err) {
  (void)err;
  auto buffer = std::make_unique<LtoeBuffer>();
  for (const auto &entry : thin->index) {
    ValueInfo info = thin->index.getValueInfo(entry);
    for (const auto &summary : entry.second.getSummaryList()) {
      auto ordinal = thin->ordinals.find(summary->modulePath());
      if (ordinal == thin->ordinals.end())
        continue;
      ltoe::put<uint64_t>(buffer->data, entry.first);
      ltoe::put<uint32_t>(buffer->data, ordinal->second);
      ltoe::put<uint8_t>(buffer->data, static_cast<uint8_t>(classify(summary->linkage())));
      // Before liveness is computed every summary counts as live.
      ltoe::put<uint8_t>(buffer->data, thin->index.isGlobalValueLive(summary.get()) ? 1 : 0);
      ltoe::putString(buffer->data, info.name());
    }
  }
  *out = buffer.release();
  return 0;
}

extern "C" int ltoe_thin_index_promoted_name(const LtoeThinIndex *thin, const char *moduleId,
                                             const char *name, LtoeBuffer **out, char **err) {
  auto info = thin->index.modulePaths().find(moduleId);
  if (info == thin->index.modulePaths().end())
    return ltoe::fail(std::string("module identifier '") + moduleId +
                          "' is not in the ThinLTO index",
                      err);
  // The rename step names a promoted local this way
  // (FunctionImportGlobalProcessing::getPromotedName).
  auto buffer = std::make_unique<LtoeBuffer>();
  std::string promoted = ModuleSummaryIndex::getGlobalNameForLocal(name, info->second);
  buffer->data.assign(promoted.begin(), promoted.end());
  *out = buffer.release();
  return 0;
}

extern "C" uint64_t ltoe_guid_for_symbol(const char *name) {
  return GlobalValue::getGUIDAssumingExternalLinkage(GlobalValue::dropLLVMManglingEscape(name));
}

extern "C" int ltoe_thin_index_set_prevailing(LtoeThinIndex *thin, const uint64_t *guids,
                                              const uint32_t *ordinals, size_t count,
                                              char **err) {
  thin->prevailing.clear();
  for (size_t i = 0; i < count; ++i) {
    if (ordinals[i] >= thin->moduleIds.size())
      return ltoe::fail("prevailing module ordinal out of range", err);
    thin->prevailing[guids[i]] = thin->modulePath(*thin->moduleIds[ordinals[i]]);
  }
  return 0;
}

extern "C" void ltoe_thin_index_compute_dead(LtoeThinIndex *thin, const uint64_t *preserved,
                                             size_t count, int importEnabled) {
  thin->preserved.clear();
  for (size_t i = 0; i < count; ++i)
    thin->preserved.insert(preserved[i]);
  // Yes for a GUID whose prevailing copy was chosen; Unknown otherwise (locals,
  // and values only available_externally), which keeps them when reached.
  auto isPrevailing = [&](GlobalValue::GUID guid) {
    return thin->prevailing.count(guid) ? PrevailingType::Yes : PrevailingType::Unknown;
  };
  computeDeadSymbolsWithConstProp(thin->index, thin->preserved, isPrevailing,
                                  importEnabled != 0);
}

extern "C" void ltoe_thin_index_devirtualize(LtoeThinIndex *thin, int wholeProgramVisibility,
                                             const uint64_t *dynamicExports, size_t count) {
  // As LTO::runThinLTO, after liveness and before imports: with whole-program
  // visibility, the vtables of classes nobody outside the unit can see
  // (everything not preserved) get linkage-unit visibility; then the
  // index-based devirtualization records its decisions in the index, which
  // the backends' pipelines read as their import summary. Without type
  // metadata in the summaries (no -fwhole-program-vtables) nothing happens.
  if (wholeProgramVisibility)
    thin->index.setWithWholeProgramVisibility();
  DenseSet<GlobalValue::GUID> exports;
  for (size_t i = 0; i < count; ++i)
    exports.insert(dynamicExports[i]);
  updateVCallVisibilityInIndex(thin->index, wholeProgramVisibility != 0, exports,
                               /*VisibleToRegularObjSymbols=*/{});
  thin->devirtualizationExports.clear();
  thin->localDevirtualizationTargets.clear();
  runWholeProgramDevirtOnIndex(thin->index, thin->devirtualizationExports,
                               thin->localDevirtualizationTargets);
}

extern "C" void ltoe_thin_index_compute_imports(LtoeThinIndex *thin, int importEnabled) {
  thin->definedPerModule.clear();
  thin->index.collectDefinedGVSummariesPerModule(thin->definedPerModule);
  // Every module gets an entry, even one without summaries, so the backend
  // steps can tell "no definitions" from "unknown module".
  for (const auto &id : thin->moduleIds)
    thin->definedPerModule.try_emplace(thin->modulePath(*id));
  if (importEnabled) {
    auto isPrevailing = [&](GlobalValue::GUID guid, const GlobalValueSummary *summary) {
      return thin->isPrevailing(guid, summary);
    };
    ComputeCrossModuleImport(thin->index, thin->definedPerModule, isPrevailing,
                             thin->importLists, thin->exportLists);
  }
  // Pre-insert an (empty) import list for every module so that worker
  // threads only ever read the map.
  for (const auto &id : thin->moduleIds)
    (void)thin->importLists[thin->modulePath(*id)];
  thin->importsComputed = true;
}

extern "C" int ltoe_thin_index_cross_module_guids(const LtoeThinIndex *thin, LtoeBuffer **out,
                                                  char **err) {
  (void)err;
  // Which modules define each GUID, and which GUIDs each module's summaries
  // reference (calls and refs: every use in a function body or initializer).
  DenseMap<GlobalValue::GUID, SmallVector<StringRef, 1>> definedIn;
  std::vector<std::pair<GlobalValue::GUID, StringRef>> references;
  for (const auto &entry : thin->index) {
    for (const auto &summary : entry.second.getSummaryList()) {
      StringRef module = summary->modulePath();
      auto &modules = definedIn[entry.first];
      if (llvm::find(modules, module) == modules.end())
        modules.push_back(module);
      for (const ValueInfo &ref : summary->refs())
        references.push_back({ref.getGUID(), module});
      if (const auto *function = dyn_cast<FunctionSummary>(summary.get()))
        for (const auto &call : function->calls())
          references.push_back({call.first.getGUID(), module});
      if (const auto *alias = dyn_cast<AliasSummary>(summary.get()))
        if (alias->hasAliasee())
          references.push_back({alias->getAliaseeGUID(), module});
    }
  }
  // Cross-module: defined in several modules, or used where not defined.
  DenseSet<GlobalValue::GUID> cross;
  for (const auto &[guid, modules] : definedIn)
    if (modules.size() > 1)
      cross.insert(guid);
  for (const auto &[guid, module] : references) {
    auto it = definedIn.find(guid);
    if (it == definedIn.end() || llvm::find(it->second, module) == it->second.end())
      cross.insert(guid);
  }
  std::vector<GlobalValue::GUID> sorted(cross.begin(), cross.end());
  llvm::sort(sorted);
  auto buffer = std::make_unique<LtoeBuffer>();
  for (GlobalValue::GUID guid : sorted)
    ltoe::put<uint64_t>(buffer->data, guid);
  *out = buffer.release();
  return 0;
}

extern "C" void ltoe_thin_index_internalize_and_promote(LtoeThinIndex *thin,
                                                        const uint64_t *crossModule,
                                                        size_t count) {
  // Live values that are preserved or that another module refers to stay
  // exported (lld's "external partition" symbols); so does whatever another
  // module imports (the export lists).
  std::set<GlobalValue::GUID> exported;
  for (GlobalValue::GUID guid : thin->preserved)
    if (thin->index.isGUIDLive(guid))
      exported.insert(guid);
  for (size_t i = 0; i < count; ++i)
    if (thin->index.isGUIDLive(crossModule[i]))
      exported.insert(crossModule[i]);
  // Targets devirtualization turned into direct calls from other modules.
  for (GlobalValue::GUID guid : thin->devirtualizationExports)
    exported.insert(guid);
  auto isExported = [&](StringRef moduleId, ValueInfo info) {
    auto list = thin->exportLists.find(moduleId);
    return (list != thin->exportLists.end() && list->second.count(info)) ||
           exported.count(info.getGUID());
  };
  auto isPrevailing = [&](GlobalValue::GUID guid, const GlobalValueSummary *summary) {
    return thin->isPrevailing(guid, summary);
  };
  // Local targets that are exported get promoted: the devirtualized calls
  // must use their promoted names.
  updateIndexWPDForExports(thin->index, isExported, thin->localDevirtualizationTargets);
  thinLTOInternalizeAndPromoteInIndex(thin->index, isExported, isPrevailing);
}

extern "C" void ltoe_thin_index_resolve_prevailing(LtoeThinIndex *thin, int elfVisibility) {
  lto::Config config;
  config.VisibilityScheme = elfVisibility ? lto::Config::ELF : lto::Config::FromPrevailing;
  auto isPrevailing = [&](GlobalValue::GUID guid, const GlobalValueSummary *summary) {
    return thin->isPrevailing(guid, summary);
  };
  auto record = [&](StringRef moduleId, GlobalValue::GUID guid,
                    GlobalValue::LinkageTypes linkage) {
    thin->resolvedLinkages[moduleId][guid] = linkage;
  };
  thinLTOResolvePrevailingInIndex(config, thin->index, isPrevailing, record, thin->preserved);
}

extern "C" void ltoe_thin_index_propagate_attributes(LtoeThinIndex *thin) {
  auto isPrevailing = [&](GlobalValue::GUID guid, const GlobalValueSummary *summary) {
    return thin->isPrevailing(guid, summary);
  };
  thinLTOPropagateFunctionAttrs(thin->index, isPrevailing);
}

extern "C" int ltoe_thin_index_module_imports(const LtoeThinIndex *thin, const char *moduleId,
                                              LtoeBuffer **out, char **err) {
  StringRef path = thin->modulePath(moduleId);
  if (path.empty())
    return ltoe::fail(std::string("module identifier '") + moduleId +
                          "' is not in the ThinLTO index",
                      err);
  auto buffer = std::make_unique<LtoeBuffer>();
  const auto &imports = thin->importLists.lookup(path);
  for (const auto &[from, guid, kind] : imports) {
    auto ordinal = thin->ordinals.find(from);
    if (ordinal == thin->ordinals.end())
      continue;
    ValueInfo info = thin->index.getValueInfo(guid);
    ltoe::put<uint32_t>(buffer->data, ordinal->second);
    ltoe::put<uint64_t>(buffer->data, guid);
    ltoe::put<uint8_t>(buffer->data, kind == GlobalValueSummary::Definition ? 1 : 0);
    ltoe::putString(buffer->data, info ? info.name() : StringRef());
  }
  *out = buffer.release();
  return 0;
}

extern "C" int ltoe_thin_index_module_stats(const LtoeThinIndex *thin, const char *moduleId,
                                            size_t *definitions, size_t *live,
                                            size_t *exports, uint64_t *instructions,
                                            char **err) {
  StringRef path = thin->modulePath(moduleId);
  auto it = thin->definedPerModule.find(path);
  if (path.empty() || it == thin->definedPerModule.end())
    return ltoe::fail(std::string("module identifier '") + moduleId +
                          "' is not in the ThinLTO index",
                      err);
  *definitions = it->second.size();
  *live = 0;
  *instructions = 0;
  for (const auto &entry : it->second) {
    if (thin->index.isGlobalValueLive(entry.second))
      ++*live;
    if (const auto *function = dyn_cast<FunctionSummary>(entry.second))
      *instructions += function->instCount();
  }
  auto exportList = thin->exportLists.find(path);
  *exports = exportList == thin->exportLists.end() ? 0 : exportList->second.size();
  return 0;
}

// ---- per-module backend steps; each only reads the index ----

extern "C" int ltoe_thin_backend_rename(const LtoeThinIndex *thin, LLVMModuleRef moduleRef,
                                        LLVMTargetMachineRef tm, char **err) {
  Module &module = *unwrap(moduleRef);
  if (!definedGlobalsFor(thin, module, err))
    return 1;
  renameModuleForThinLTO(module, thin->index, clearDSOLocalOnDeclarations(module, tm));
  return 0;
}

extern "C" int ltoe_thin_backend_resolve(const LtoeThinIndex *thin, LLVMModuleRef moduleRef,
                                         char **err) {
  Module &module = *unwrap(moduleRef);
  const GVSummaryMapTy *defined = definedGlobalsFor(thin, module, err);
  if (!defined)
    return 1;
  // Dead definitions become declarations first (and go away when unused),
  // as LTO's backend does before finalizing linkages.
  std::vector<GlobalValue *> dead;
  for (GlobalValue &value : module.global_values()) {
    GlobalValueSummary *summary = defined->lookup(value.getGUID());
    if (summary && !thin->index.isGlobalValueLive(summary)) {
      dead.push_back(&value);
      convertToDeclaration(value);
    }
  }
  for (GlobalValue *value : dead) {
    value->removeDeadConstantUsers();
    if (value->use_empty())
      value->eraseFromParent();
  }
  thinLTOFinalizeInModule(module, *defined, /*PropagateAttrs=*/true);
  return 0;
}

extern "C" int ltoe_thin_backend_internalize(const LtoeThinIndex *thin,
                                             LLVMModuleRef moduleRef, char **err) {
  Module &module = *unwrap(moduleRef);
  const GVSummaryMapTy *defined = definedGlobalsFor(thin, module, err);
  if (!defined)
    return 1;
  if (!defined->empty())
    thinLTOInternalizeModule(module, *defined);
  return 0;
}

extern "C" int ltoe_thin_backend_import(const LtoeThinIndex *thin, LLVMModuleRef moduleRef,
                                        LLVMTargetMachineRef tm, char **err) {
  Module &module = *unwrap(moduleRef);
  if (!definedGlobalsFor(thin, module, err))
    return 1;
  LLVMContext &context = module.getContext();
  // Source modules are loaded lazily, in this module's context, from the
  // buffers the index was built from.
  auto loader = [&](StringRef id) { return ltoe::lazySource(thin, id, context); };
  const auto &imports = thin->importLists.lookup(thin->modulePath(module.getModuleIdentifier()));
  FunctionImporter importer(thin->index, loader, clearDSOLocalOnDeclarations(module, tm));
  Expected<bool> changed = importer.importFunctions(module, imports);
  if (!changed)
    return ltoe::fail(changed.takeError(), err);
  // Imported code may hold public type tests; lower them as LTO does.
  updatePublicTypeTestCalls(module, thin->index.withWholeProgramVisibility());
  return 0;
}

extern "C" int ltoe_thin_backend_optimize(const LtoeThinIndex *thin, LLVMModuleRef moduleRef,
                                          LLVMTargetMachineRef tmRef, int level, int vectorize,
                                          char **err) {
  Module &module = *unwrap(moduleRef);
  TargetMachine *tm = reinterpret_cast<TargetMachine *>(tmRef);
  OptimizationLevel optLevel;
  if (!ltoe::optimizationLevel(level, optLevel))
    return ltoe::fail("unknown optimization level code " + std::to_string(level), err);
  // thinlto<O> as LTO's backend builds it: the combined index is the import
  // summary, so whole-program devirtualization and type-test lowering apply
  // the thin link's decisions (the C API's textual pipeline passes none).
  ltoe::PipelineSetup setup(module, tm, vectorize);
  ModulePassManager passes = setup.builder.buildThinLTODefaultPipeline(optLevel, &thin->index);
  passes.run(module, setup.modules);
  return 0;
}
