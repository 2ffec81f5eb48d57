// Incremental ThinLTO: per-module cache keys over the thin link's decisions,
// cache pruning policies and pruning, and a fast checksum for cache entries.
// The Rust side decides what is a hit, where entries live and when to prune.
#include "thin_index.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/LTO/Config.h"
#include "llvm/LTO/LTO.h"
#include "llvm/Support/CachePruning.h"
#include "llvm/Support/CodeGen.h"
#include "llvm/Support/SHA1.h"
#include "llvm/Support/BLAKE3.h"
#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/Support/raw_ostream.h"
#include <optional>
#include <set>
#include "llvm/Support/xxhash.h"
#include "llvm/TargetParser/Host.h"
#include <algorithm>
#include <map>
#include <vector>

using namespace llvm;

namespace {
// A component digest for miss reasons: not a key, only compared with the
// digest of the same component in an earlier run.
std::string digestHex(const std::string &bytes) {
  return utohexstr(xxh3_64bits(StringRef(bytes)), /*LowerCase=*/true, /*Width=*/16);
}

std::string moduleHashHex(const ModuleHash &hash) {
  std::string out;
  for (uint32_t word : hash)
    out += utohexstr(word, /*LowerCase=*/true, /*Width=*/8);
  return out;
}

// The settings as LTO's own Config holds them, so that computeLTOCacheKey
// hashes them exactly as it does for lld.
lto::Config configFrom(const LtoeCacheSettings &settings) {
  lto::Config config;
  config.CPU = settings.cpu;
  // As given: the target machine gets the same string.
  for (StringRef feature : split(StringRef(settings.features), ','))
    if (!feature.empty())
      config.MAttrs.push_back(feature.str());
  config.OverrideTriple = settings.triple;
  // What a module without a triple is compiled for.
  config.DefaultTriple = sys::getDefaultTargetTriple();
  config.OptPipeline = settings.pipeline;
  config.OptLevel = static_cast<unsigned>(settings.opt_level);
  config.CGOptLevel = static_cast<CodeGenOptLevel>(settings.codegen_opt_level);
  // Codes the Rust side checked (it builds them from its own enums); an
  // unknown one keeps lto::Config's default, which only changes the key.
  switch (settings.reloc_model) {
  case LTOE_RELOC_STATIC:
    config.RelocModel = Reloc::Static;
    break;
  case LTOE_RELOC_DYNAMIC_NO_PIC:
    config.RelocModel = Reloc::DynamicNoPIC;
    break;
  case LTOE_RELOC_PIC:
  default:
    config.RelocModel = Reloc::PIC_;
  }
  switch (settings.code_model) {
  case LTOE_CODE_MODEL_TINY:
    config.CodeModel = CodeModel::Tiny;
    break;
  case LTOE_CODE_MODEL_SMALL:
    config.CodeModel = CodeModel::Small;
    break;
  case LTOE_CODE_MODEL_KERNEL:
    config.CodeModel = CodeModel::Kernel;
    break;
  case LTOE_CODE_MODEL_MEDIUM:
    config.CodeModel = CodeModel::Medium;
    break;
  case LTOE_CODE_MODEL_LARGE:
    config.CodeModel = CodeModel::Large;
    break;
  case LTOE_CODE_MODEL_DEFAULT:
  default:
    config.CodeModel = std::nullopt;
  }
  switch (settings.file_type) {
  case LTOE_FILE_OBJECT:
    config.CGFileType = CodeGenFileType::ObjectFile;
    break;
  case LTOE_FILE_ASSEMBLY:
    config.CGFileType = CodeGenFileType::AssemblyFile;
    break;
  case LTOE_FILE_NONE:
  default:
    config.CGFileType = CodeGenFileType::Null;
  }
  config.Options.FunctionSections = settings.function_sections != 0;
  config.Options.DataSections = settings.data_sections != 0;
  return config;
}

// Function flags after attribute propagation: the backend applies them
// (thinLTOFinalizeInModule), computeLTOCacheKey does not hash them.
void putFunctionFlags(std::string &out, const GlobalValueSummary *summary) {
  const auto *function = dyn_cast<FunctionSummary>(summary->getBaseObject());
  if (!function) {
    ltoe::put<uint16_t>(out, 0xffff);
    return;
  }
  FunctionSummary::FFlags flags = function->fflags();
  uint16_t bits = flags.ReadNone | flags.ReadOnly << 1 | flags.NoRecurse << 2 |
                  flags.ReturnDoesNotAlias << 3 | flags.NoInline << 4 |
                  flags.AlwaysInline << 5 | flags.NoUnwind << 6 | flags.MayThrow << 7 |
                  flags.HasUnknownCall << 8 | flags.MustBeUnreachable << 9;
  ltoe::put<uint16_t>(out, bits);
}
} // namespace

namespace {
// The index's view of one summary, as the backend and the importer read it.
void putSummaryState(std::string &out, const ModuleSummaryIndex &index,
                     const GlobalValueSummary *summary) {
  ltoe::put<uint8_t>(out, static_cast<uint8_t>(summary->getSummaryKind()));
  ltoe::put<uint8_t>(out, static_cast<uint8_t>(summary->linkage()));
  ltoe::put<uint8_t>(out, summary->isLive() ? 1 : 0);
  ltoe::put<uint8_t>(out, static_cast<uint8_t>(summary->getVisibility()));
  ltoe::put<uint8_t>(out, summary->canAutoHide() ? 1 : 0);
  ltoe::put<uint8_t>(out, summary->isDSOLocal() ? 1 : 0);
  ltoe::put<uint8_t>(out, summary->notEligibleToImport() ? 1 : 0);
  ltoe::put<uint8_t>(out, summary->shouldImportAsDecl() ? 1 : 0);
  if (const auto *alias = dyn_cast<AliasSummary>(summary)) {
    ltoe::put<uint64_t>(out, alias->hasAliasee() ? alias->getAliaseeGUID() : 0);
  } else if (const auto *variable = dyn_cast<GlobalVarSummary>(summary)) {
    ltoe::put<uint8_t>(out, variable->maybeReadOnly() ? 1 : 0);
    ltoe::put<uint8_t>(out, variable->maybeWriteOnly() ? 1 : 0);
    ltoe::put<uint8_t>(out, variable->isConstant() ? 1 : 0);
    ltoe::put<uint8_t>(out, index.isReadOnly(variable) ? 1 : 0);
    ltoe::put<uint8_t>(out, index.isWriteOnly(variable) ? 1 : 0);
  } else {
    putFunctionFlags(out, summary);
  }
}

// A type identifier's resolutions, field by field as computeLTOCacheKey
// hashes them.
void putTypeIdState(std::string &out, const ModuleSummaryIndex &index, GlobalValue::GUID id) {
  for (const auto &entry : make_range(index.typeIds().equal_range(id))) {
    const TypeIdSummary &summary = entry.second.second;
    ltoe::putString(out, entry.second.first);
    ltoe::put<uint32_t>(out, summary.TTRes.TheKind);
    ltoe::put<uint32_t>(out, summary.TTRes.SizeM1BitWidth);
    ltoe::put<uint64_t>(out, summary.TTRes.AlignLog2);
    ltoe::put<uint64_t>(out, summary.TTRes.SizeM1);
    ltoe::put<uint64_t>(out, summary.TTRes.BitMask);
    ltoe::put<uint64_t>(out, summary.TTRes.InlineBits);
    ltoe::put<uint64_t>(out, summary.WPDRes.size());
    for (const auto &[offset, resolution] : summary.WPDRes) {
      ltoe::put<uint64_t>(out, offset);
      ltoe::put<uint32_t>(out, resolution.TheKind);
      ltoe::putString(out, resolution.SingleImplName);
      ltoe::put<uint64_t>(out, resolution.ResByArg.size());
      for (const auto &[args, byArg] : resolution.ResByArg) {
        ltoe::put<uint64_t>(out, args.size());
        for (uint64_t arg : args)
          ltoe::put<uint64_t>(out, arg);
        ltoe::put<uint32_t>(out, byArg.TheKind);
        ltoe::put<uint64_t>(out, byArg.Info);
        ltoe::put<uint32_t>(out, byArg.Byte);
        ltoe::put<uint32_t>(out, byArg.Bit);
      }
    }
  }
}

// What a summary uses that the thin link decides: what computeLTOCacheKey's
// AddUsedThings covers, and more (every summary of each value referenced or
// called, not only its dso_local bit). Type identifiers go to `typeIds`.
void putUsedState(std::string &out, const ModuleSummaryIndex &index,
                  const GlobalValueSummary *summary, std::set<GlobalValue::GUID> &typeIds) {
  auto putValue = [&](const ValueInfo &info) {
    ltoe::put<uint64_t>(out, info.getGUID());
    ltoe::put<uint8_t>(out, info.isDSOLocal(index.withDSOLocalPropagation()) ? 1 : 0);
    ltoe::put<uint8_t>(out, info.canAutoHide() ? 1 : 0);
    ltoe::put<uint64_t>(out, info.getSummaryList().size());
    for (const auto &other : info.getSummaryList())
      putSummaryState(out, index, other.get());
  };
  for (const ValueInfo &info : summary->refs())
    putValue(info);
  const auto *function = dyn_cast<FunctionSummary>(summary);
  if (!function)
    return;
  for (const auto &[callee, edge] : function->calls())
    putValue(callee);
  for (GlobalValue::GUID id : function->type_tests())
    typeIds.insert(id);
  for (const auto &call : function->type_test_assume_vcalls())
    typeIds.insert(call.GUID);
  for (const auto &call : function->type_checked_load_vcalls())
    typeIds.insert(call.GUID);
  for (const auto &call : function->type_test_assume_const_vcalls())
    typeIds.insert(call.VFunc.GUID);
  for (const auto &call : function->type_checked_load_const_vcalls())
    typeIds.insert(call.VFunc.GUID);
}

void putIndexFlags(std::string &out, const ModuleSummaryIndex &index) {
  ltoe::put<uint8_t>(out, index.withAttributePropagation() ? 1 : 0);
  ltoe::put<uint8_t>(out, index.withDSOLocalPropagation() ? 1 : 0);
  ltoe::put<uint8_t>(out, index.withWholeProgramVisibility() ? 1 : 0);
  ltoe::put<uint8_t>(out, index.withInternalizeAndPromote() ? 1 : 0);
  ltoe::put<uint8_t>(out, index.partiallySplitLTOUnits() ? 1 : 0);
}

void blake3Of(const std::string &bytes, uint8_t out[32]) {
  auto digest = BLAKE3::hash<32>(arrayRefFromStringRef(bytes));
  std::memcpy(out, digest.data(), 32);
}
} // namespace

extern "C" int ltoe_thin_index_cache_key(const LtoeThinIndex *thin, const char *moduleId,
                                         const LtoeCacheSettings *settings, const char *extra,
                                         size_t extraLen, const uint32_t *digestSources,
                                         const uint8_t *digests, size_t digestCount,
                                         const uint32_t *substituteSources,
                                         const char *substituteHashes, size_t substituteCount,
                                         LtoeBuffer **out, char **err) {
  StringRef path = thin->modulePath(moduleId);
  auto defined = thin->definedPerModule.find(path);
  if (path.empty() || defined == thin->definedPerModule.end() || !thin->importsComputed)
    return ltoe::unknownModule(moduleId, err);
  const ModuleSummaryIndex &index = thin->index;
  const FunctionImporter::ImportMapTy &imports = thin->importLists.lookup(path);
  static const FunctionImporter::ExportSetTy noExports;
  auto exportIt = thin->exportLists.find(path);
  const FunctionImporter::ExportSetTy &exports =
      exportIt == thin->exportLists.end() ? noExports : exportIt->second;
  static const std::map<GlobalValue::GUID, GlobalValue::LinkageTypes> noResolutions;
  auto resolvedIt = thin->resolvedLinkages.find(path);
  const auto &resolved =
      resolvedIt == thin->resolvedLinkages.end() ? noResolutions : resolvedIt->second;
  lto::Config config = configFrom(*settings);

  // LLVM's own key, as lld computes it: only compared with the last run's,
  // to count what LLVM's rule would have recompiled.
  std::string llvmKey =
      computeLTOCacheKey(config, index, path, imports, exports, resolved, defined->second);

  // The finer key starts from LLVM's key of the module as if it imported
  // nothing (its settings, hash, exports, resolutions, definitions and what
  // they use), then adds what computeLTOCacheKey leaves out (the Rust side's
  // extra settings, propagated function flags) and the imports, each source
  // standing by the digest of what its import brings, or by its whole
  // module hash when no digest was given.
  FunctionImporter::ImportIDTable emptyIds;
  FunctionImporter::ImportMapTy noImports(emptyIds);
  std::string base =
      computeLTOCacheKey(config, index, path, noImports, exports, resolved, defined->second);
  std::vector<std::pair<GlobalValue::GUID, const GlobalValueSummary *>> definitions(
      defined->second.begin(), defined->second.end());
  llvm::sort(definitions, [](const auto &a, const auto &b) { return a.first < b.first; });
  std::string flags;
  for (const auto &[guid, summary] : definitions) {
    ltoe::put<uint64_t>(flags, guid);
    putFunctionFlags(flags, summary);
  }

  std::map<uint32_t, std::string> givenDigests;
  for (size_t i = 0; i < digestCount; ++i)
    givenDigests[digestSources[i]] = std::string(reinterpret_cast<const char *>(digests + 32 * i), 32);
  // Per source: what stands for it, then the values imported (sorted).
  // A source given here stands by that earlier content hash (40 hex
  // digits) in the substituted key instead of by its digest.
  std::map<uint32_t, std::string> substitutes;
  for (size_t i = 0; i < substituteCount; ++i)
    substitutes[substituteSources[i]] = std::string(substituteHashes + 40 * i, 40);
  std::map<StringRef, std::vector<std::pair<GlobalValue::GUID, uint8_t>>> bySource;
  for (const auto &[from, guid, kind] : imports)
    bySource[from].push_back({guid, static_cast<uint8_t>(kind)});
  std::string importPart;
  // The same with every source by its content hash: the key of this module
  // had no digest been given, looked up when the finer key is missing (an
  // entry stored before the source's first probe).
  std::string hashOnlyPart;
  // The finer key with each substituted source by its earlier content
  // hash: what an entry stored before that source's first probe is under,
  // when the probes showed its import unchanged since that content.
  std::string substitutedPart;
  std::set<GlobalValue::GUID> usedTypeIds;
  std::vector<std::pair<uint32_t, std::string>> sourceDigests;
  for (auto &[from, values] : bySource) {
    auto ordinal = thin->ordinals.find(from);
    llvm::sort(values);
    std::string source;
    std::string byHash = 'h' + moduleHashHex(thin->contentHash(from));
    auto substitute =
        ordinal == thin->ordinals.end() ? substitutes.end() : substitutes.find(ordinal->second);
    auto given = ordinal == thin->ordinals.end() ? givenDigests.end()
                                                 : givenDigests.find(ordinal->second);
    if (given != givenDigests.end()) {
      source += 'd';
      source += given->second;
    } else {
      source += byHash;
    }
    std::string body;
    ltoe::put<uint64_t>(body, values.size());
    for (const auto &[guid, kind] : values) {
      ltoe::put<uint64_t>(body, guid);
      ltoe::put<uint8_t>(body, kind);
      // The index state of the imported value and of what it uses, as
      // computeLTOCacheKey adds it for imports (an alias with its aliasee).
      if (const GlobalValueSummary *summary = index.findSummaryInModule(guid, from)) {
        putSummaryState(body, index, summary);
        putUsedState(body, index, summary, usedTypeIds);
        if (const auto *alias = dyn_cast<AliasSummary>(summary))
          if (alias->hasAliasee())
            putUsedState(body, index, alias->getBaseObject(), usedTypeIds);
      }
    }
    if (substitute != substitutes.end())
      ltoe::putString(substitutedPart, 'h' + substitute->second + body);
    else
      ltoe::putString(substitutedPart, source + body);
    source += body;
    ltoe::putString(importPart, source);
    ltoe::putString(hashOnlyPart, byHash + body);
    if (ordinal != thin->ordinals.end())
      sourceDigests.push_back({ordinal->second, digestHex(source)});
  }
  std::string typeIdPart;
  for (GlobalValue::GUID id : usedTypeIds)
    putTypeIdState(typeIdPart, index, id);
  importPart += typeIdPart;
  hashOnlyPart += typeIdPart;
  substitutedPart += typeIdPart;

  // The module's own content: computeLTOCacheKey took the index's hash,
  // which names the module when promotion names are stable.
  std::string content = moduleHashHex(thin->contentHash(path));
  std::string extraId(extra, extraLen);
  extraId.push_back('\0');
  extraId += content;
  extraId.push_back('\0');
  extraId += toHex(SHA1::hash(arrayRefFromStringRef(flags)));
  extraId.push_back('\0');
  putIndexFlags(extraId, index);
  std::string key =
      recomputeLTOCacheKey(base, extraId + toHex(SHA1::hash(arrayRefFromStringRef(importPart))));
  std::string hashOnlyKey = recomputeLTOCacheKey(
      base, extraId + toHex(SHA1::hash(arrayRefFromStringRef(hashOnlyPart))));
  std::string substitutedKey =
      substitutes.empty()
          ? std::string()
          : recomputeLTOCacheKey(
                base, extraId + toHex(SHA1::hash(arrayRefFromStringRef(substitutedPart))));
  // LLVM's rule by content, whatever the index's hashes name.
  std::string llvmRuleExtra(extra, extraLen);
  llvmRuleExtra += content;
  for (const auto &[from, values] : bySource)
    llvmRuleExtra += moduleHashHex(thin->contentHash(from));
  std::string llvmRuleKey = recomputeLTOCacheKey(llvmKey, llvmRuleExtra);

  // Component digests, for telling why a key changed.
  std::string resolution;
  std::vector<GlobalValue::GUID> exported;
  for (const ValueInfo &info : exports)
    exported.push_back(info.getGUID());
  llvm::sort(exported);
  for (GlobalValue::GUID guid : exported)
    ltoe::put<uint64_t>(resolution, guid);
  for (const auto &[guid, linkage] : resolved) {
    ltoe::put<uint64_t>(resolution, guid);
    ltoe::put<uint8_t>(resolution, static_cast<uint8_t>(linkage));
  }
  for (const auto &[guid, summary] : definitions) {
    ltoe::put<uint64_t>(resolution, guid);
    ltoe::put<uint8_t>(resolution, static_cast<uint8_t>(summary->linkage()));
    ltoe::put<uint8_t>(resolution, summary->isLive() ? 1 : 0);
    ltoe::put<uint8_t>(resolution, static_cast<uint8_t>(summary->getVisibility()));
    ltoe::put<uint8_t>(resolution, summary->canAutoHide() ? 1 : 0);
  }
  resolution += flags;

  auto buffer = std::make_unique<LtoeBuffer>();
  ltoe::putString(buffer->data, key);
  ltoe::putString(buffer->data, hashOnlyKey);
  ltoe::putString(buffer->data, substitutedKey);
  ltoe::putString(buffer->data, llvmRuleKey);
  ltoe::putString(buffer->data, moduleHashHex(thin->contentHash(path)));
  ltoe::putString(buffer->data, digestHex(resolution));
  for (const auto &[ordinal, digest] : sourceDigests) {
    ltoe::put<uint32_t>(buffer->data, ordinal);
    ltoe::putString(buffer->data, digest);
  }
  *out = buffer.release();
  return 0;
}

extern "C" int ltoe_thin_index_source_state(const LtoeThinIndex *thin, const char *moduleId,
                                            uint8_t out[32], uint8_t view[32], char **err) {
  StringRef path = thin->modulePath(moduleId);
  auto defined = thin->definedPerModule.find(path);
  if (path.empty() || defined == thin->definedPerModule.end() || !thin->importsComputed)
    return ltoe::unknownModule(moduleId, err);
  const ModuleSummaryIndex &index = thin->index;
  std::string state;
  putIndexFlags(state, index);
  auto exportIt = thin->exportLists.find(path);
  std::vector<std::pair<GlobalValue::GUID, const GlobalValueSummary *>> definitions(
      defined->second.begin(), defined->second.end());
  llvm::sort(definitions, [](const auto &a, const auto &b) { return a.first < b.first; });
  std::set<GlobalValue::GUID> typeIds;
  for (const auto &[guid, summary] : definitions) {
    ltoe::put<uint64_t>(state, guid);
    bool exported = exportIt != thin->exportLists.end() &&
                    exportIt->second.contains(index.getValueInfo(guid));
    ltoe::put<uint8_t>(state, exported ? 1 : 0);
    putSummaryState(state, index, summary);
    putUsedState(state, index, summary, typeIds);
  }
  for (GlobalValue::GUID id : typeIds)
    putTypeIdState(state, index, id);
  // The view is the state without the content: equal views of two versions
  // of a module mean the thin link treats them alike.
  blake3Of(state, view);
  ltoe::putString(state, moduleHashHex(thin->contentHash(path)));
  blake3Of(state, out);
  return 0;
}

extern "C" int ltoe_thin_index_import_digest(const LtoeThinIndex *thin, const char *moduleId,
                                             const char *version, size_t versionLen,
                                             const uint64_t *guids, const uint8_t *definitions,
                                             size_t count, uint8_t out[32], char **err) {
  StringRef path = thin->modulePath(moduleId);
  if (path.empty())
    return ltoe::unknownModule(moduleId, err);
  LLVMContext context;
  context.setDiagnosticHandler(std::make_unique<ltoe::SilentHandler>());
  // The source as the index has it, or the given version of it (the first
  // module of `version`), loaded as the importer loads sources.
  std::optional<BitcodeModule> other;
  if (version) {
    auto modules = getBitcodeModuleList(
        MemoryBufferRef(StringRef(version, versionLen), path));
    if (!modules)
      return ltoe::fail(modules.takeError(), err);
    if (modules->empty())
      return ltoe::fail("the given version of '" + path.str() + "' holds no module", err);
    other = (*modules)[0];
  }
  auto load = [&]() -> Expected<std::unique_ptr<Module>> {
    if (!other)
      return ltoe::lazySource(thin, path, context);
    auto lazy = other->getLazyModule(context, /*ShouldLazyLoadMetadata=*/true,
                                     /*IsImporting=*/true);
    if (lazy)
      (*lazy)->setModuleIdentifier(path);
    return lazy;
  };
  auto first = load();
  if (!first)
    return ltoe::fail(first.takeError(), err);
  // An empty destination with the source's layout and triple: the imported
  // values are all it holds, so its bitcode depends on nothing else.
  Module destination("ltoe-import-probe", context);
  destination.setDataLayout((*first)->getDataLayout());
  destination.setTargetTriple((*first)->getTargetTriple());
  std::unique_ptr<Module> pending = std::move(*first);
  auto loader = [&](StringRef id) -> Expected<std::unique_ptr<Module>> {
    if (id != path)
      return createStringError("import source '" + id.str() + "' is not the probed module");
    // The first load gave the destination its layout; it is used first.
    if (pending)
      return std::move(pending);
    return load();
  };
  FunctionImporter::ImportIDTable ids;
  FunctionImporter::ImportMapTy imports(ids);
  for (size_t i = 0; i < count; ++i)
    imports.addGUID(path, guids[i],
                    definitions[i] ? GlobalValueSummary::Definition
                                   : GlobalValueSummary::Declaration);
  // Without clearing dso_local on declarations: with it, the result differs
  // only by clearing that bit on declarations, which this one determines,
  // and the importing module's PIE level (which decides it) is in its own
  // hash.
  FunctionImporter importer(thin->index, loader, /*ClearDSOLocalOnDeclarations=*/false);
  Expected<bool> imported = importer.importFunctions(destination, imports);
  if (!imported)
    return ltoe::fail(imported.takeError(), err);
  std::string bytes;
  raw_string_ostream stream(bytes);
  WriteBitcodeToFile(destination, stream);
  stream.flush();
  blake3Of(bytes, out);
  return 0;
}

extern "C" int ltoe_cache_policy_parse(const char *policy, uint64_t *expirationSeconds,
                                       char **err) {
  auto parsed = parseCachePruningPolicy(policy);
  if (!parsed)
    return ltoe::fail(parsed.takeError(), err);
  *expirationSeconds = static_cast<uint64_t>(parsed->Expiration.count());
  return 0;
}

extern "C" int ltoe_cache_prune(const char *dir, const char *policy, int *pruned, char **err) {
  auto parsed = parseCachePruningPolicy(policy);
  if (!parsed)
    return ltoe::fail(parsed.takeError(), err);
  *pruned = pruneCache(dir, *parsed) ? 1 : 0;
  return 0;
}

extern "C" uint64_t ltoe_xxh3_64(const uint8_t *data, size_t len) {
  return xxh3_64bits(ArrayRef<uint8_t>(data, len));
}
