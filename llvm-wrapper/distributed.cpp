// Distributed ThinLTO: per-module slices of the combined index for backends
// that run elsewhere (clang -fthinlto-index=, lto-engine backend), and the
// reading side of such a slice. Paths and file layout are Rust's business.
#include "thin_index.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/IR/Module.h"
#include "llvm/LTO/LTOBackend.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Transforms/IPO/FunctionImport.h"
#include <algorithm>

using namespace llvm;

namespace {
void putHash(std::string &out, const ModuleHash &hash) {
  for (uint32_t word : hash)
    ltoe::put<uint32_t>(out, word);
}
} // namespace

extern "C" int ltoe_thin_index_write_module_index(const LtoeThinIndex *thin,
                                                  const char *moduleId, LtoeBuffer **index,
                                                  LtoeBuffer **sources, char **err) {
  StringRef path = thin->modulePath(moduleId);
  if (path.empty() || !thin->importsComputed)
    return ltoe::fail(std::string("module identifier '") + moduleId +
                          "' is not in the ThinLTO index",
                      err);
  // The module's own summaries (they carry the thin link's linkage and
  // liveness decisions) plus those of everything it imports; declarations
  // imported as such are marked so.
  ModuleToSummariesForIndexTy summaries;
  GVSummaryPtrSet declarations;
  gatherImportedSummariesForModule(path, thin->definedPerModule, thin->importLists.lookup(path),
                                   summaries, declarations);
  auto indexBuffer = std::make_unique<LtoeBuffer>();
  {
    raw_string_ostream stream(indexBuffer->data);
    writeIndexToFile(thin->index, stream, &summaries, &declarations);
  }
  auto sourceBuffer = std::make_unique<LtoeBuffer>();
  processImportsFiles(path, summaries, [&](const std::string &source) {
    ltoe::putString(sourceBuffer->data, source);
  });
  *index = indexBuffer.release();
  *sources = sourceBuffer.release();
  return 0;
}

extern "C" int ltoe_thin_index_load_combined(LtoeThinIndex *thin, const char *data, size_t len,
                                             char **err) {
  if (!thin->moduleIds.empty())
    return ltoe::fail("an index file can only be read into an empty index", err);
  if (Error e = readModuleSummaryIndex(MemoryBufferRef(StringRef(data, len), ""), thin->index))
    return ltoe::fail(std::move(e), err);
  // A module's own bitcode reads as a summary too, under the (empty)
  // identifier given above; an index file names its modules.
  if (thin->index.modulePaths().count(""))
    return ltoe::fail("this is a module's bitcode, not an index", err);
  std::vector<std::string> paths;
  for (const auto &entry : thin->index.modulePaths())
    paths.push_back(entry.first().str());
  std::sort(paths.begin(), paths.end());
  for (const std::string &path : paths) {
    thin->ordinals[path] = static_cast<uint32_t>(thin->moduleIds.size());
    thin->moduleIds.push_back(std::make_unique<std::string>(path));
  }
  thin->index.collectDefinedGVSummariesPerModule(thin->definedPerModule);
  for (const auto &id : thin->moduleIds)
    thin->definedPerModule.try_emplace(thin->modulePath(*id));
  // Import lists come per module from the index (init_backend_imports).
  thin->importsComputed = true;
  return 0;
}

extern "C" int ltoe_thin_index_module_paths(const LtoeThinIndex *thin, LtoeBuffer **out,
                                            char **err) {
  (void)err;
  auto buffer = std::make_unique<LtoeBuffer>();
  for (const auto &id : thin->moduleIds) {
    ltoe::putString(buffer->data, *id);
    putHash(buffer->data, thin->index.getModuleHash(*id));
  }
  *out = buffer.release();
  return 0;
}

extern "C" int ltoe_bitcode_module_hash(const char *data, size_t len, uint8_t out[20],
                                        char **err) {
  MemoryBufferRef buffer(StringRef(data, len), "");
  ModuleHash hash = {{0}};
  Expected<BitcodeModule> module = lto::findThinLTOModule(buffer);
  if (module) {
    auto summary = module->getSummary();
    if (!summary)
      return ltoe::fail(summary.takeError(), err);
    for (const auto &entry : (*summary)->modulePaths())
      hash = entry.second;
  } else {
    // No ThinLTO module: the thin link computed a summary and hashed the
    // bytes it was given.
    consumeError(module.takeError());
  }
  ltoe::fillMissingModuleHash(hash, data, len);
  std::memcpy(out, hash.data(), sizeof(ModuleHash));
  return 0;
}

extern "C" int ltoe_thin_index_init_backend_imports(LtoeThinIndex *thin, LLVMModuleRef moduleRef,
                                                    LtoeBuffer **sources, char **err) {
  Module &module = *unwrap(moduleRef);
  StringRef path = thin->modulePath(module.getModuleIdentifier());
  if (path.empty())
    return ltoe::fail("module identifier '" + module.getModuleIdentifier() +
                          "' is not in the ThinLTO index",
                      err);
  FunctionImporter::ImportMapTy &imports = thin->importLists[path];
  if (!lto::initImportList(module, thin->index, imports))
    return ltoe::fail("cannot derive the import list from the index", err);
  auto buffer = std::make_unique<LtoeBuffer>();
  for (StringRef source : imports.getSourceModules())
    ltoe::putString(buffer->data, source);
  *sources = buffer.release();
  return 0;
}

extern "C" int ltoe_thin_index_attach_module(LtoeThinIndex *thin, const char *data, size_t len,
                                             const char *moduleId, char **err) {
  if (thin->modules.count(moduleId))
    return ltoe::fail(std::string("import source '") + moduleId + "' is already attached", err);
  auto stored = std::make_unique<std::string>(moduleId);
  MemoryBufferRef buffer(StringRef(data, len), *stored);
  Expected<BitcodeModule> module = lto::findThinLTOModule(buffer);
  if (!module) {
    // A module without a ThinLTO summary can still be imported from (the
    // index holds what the importer needs); take it when it is the only one.
    consumeError(module.takeError());
    auto modules = getBitcodeModuleList(buffer);
    if (!modules)
      return ltoe::fail(modules.takeError(), err);
    if (modules->size() != 1)
      return ltoe::fail("holds " + std::to_string(modules->size()) +
                            " modules and none with a ThinLTO summary",
                        err);
    module = (*modules)[0];
  }
  thin->modules.emplace(*stored, *module);
  thin->sourceIds.push_back(std::move(stored));
  return 0;
}

// The index lld writes for a lazy (--start-lib) bitcode file the link did
// not take: no summaries, flagged so that a distributed backend skips the
// module.
extern "C" void ltoe_write_skip_index(LtoeBuffer **out) {
  ModuleSummaryIndex index(/*HaveGVs=*/false);
  index.setSkipModuleByDistributedBackend();
  auto buffer = std::make_unique<LtoeBuffer>();
  {
    raw_string_ostream stream(buffer->data);
    writeIndexToFile(index, stream);
  }
  *out = buffer.release();
}
