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

extern "C" int ltoe_thin_index_cache_key(const LtoeThinIndex *thin, const char *moduleId,
                                         const LtoeCacheSettings *settings, const char *extra,
                                         size_t extraLen, LtoeBuffer **out, char **err) {
  StringRef path = thin->modulePath(moduleId);
  auto defined = thin->definedPerModule.find(path);
  if (path.empty() || defined == thin->definedPerModule.end() || !thin->importsComputed)
    return ltoe::fail(std::string("module identifier '") + moduleId +
                          "' is not in the ThinLTO index",
                      err);
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

  // The key: LLVM's own, over a Config holding the real settings, then what
  // it leaves out (the Rust side's extra settings, propagated function flags).
  std::string key = computeLTOCacheKey(configFrom(*settings), index, path, imports, exports,
                                       resolved, defined->second);
  std::vector<std::pair<GlobalValue::GUID, const GlobalValueSummary *>> definitions(
      defined->second.begin(), defined->second.end());
  llvm::sort(definitions, [](const auto &a, const auto &b) { return a.first < b.first; });
  std::string flags;
  for (const auto &[guid, summary] : definitions) {
    ltoe::put<uint64_t>(flags, guid);
    putFunctionFlags(flags, summary);
  }
  std::string extraId(extra, extraLen);
  extraId.push_back('\0');
  extraId += toHex(SHA1::hash(arrayRefFromStringRef(flags)));
  key = recomputeLTOCacheKey(key, extraId);

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

  std::map<StringRef, std::vector<std::pair<GlobalValue::GUID, uint8_t>>> bySource;
  for (const auto &[from, guid, kind] : imports)
    bySource[from].push_back({guid, static_cast<uint8_t>(kind)});

  auto buffer = std::make_unique<LtoeBuffer>();
  ltoe::putString(buffer->data, key);
  ltoe::putString(buffer->data, moduleHashHex(index.getModuleHash(path)));
  ltoe::putString(buffer->data, digestHex(resolution));
  for (auto &[from, values] : bySource) {
    auto ordinal = thin->ordinals.find(from);
    if (ordinal == thin->ordinals.end())
      continue;
    llvm::sort(values);
    std::string source = moduleHashHex(index.getModuleHash(from));
    for (const auto &[guid, kind] : values) {
      ltoe::put<uint64_t>(source, guid);
      ltoe::put<uint8_t>(source, kind);
    }
    ltoe::put<uint32_t>(buffer->data, ordinal->second);
    ltoe::putString(buffer->data, digestHex(source));
  }
  *out = buffer.release();
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
