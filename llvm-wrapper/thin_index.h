// The combined ThinLTO index and the thin link's decisions, shared by the
// translation units that read it (thin.cpp, cache.cpp).
#pragma once
#include "common.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/IR/GlobalValue.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/ModuleSummaryIndex.h"
#include "llvm/Support/SHA1.h"
#include "llvm/Transforms/IPO/FunctionImport.h"
#include "llvm/Transforms/IPO/WholeProgramDevirt.h"
#include <map>
#include <set>
#include <memory>
#include <string>
#include <vector>

struct LtoeThinIndex {
  llvm::ModuleSummaryIndex index{/*HaveGVs=*/false};
  // Module identifiers in the order they were added (their ordinal). Heap
  // strings: a BitcodeModule keeps a StringRef to its identifier.
  std::vector<std::unique_ptr<std::string>> moduleIds;
  llvm::StringMap<uint32_t> ordinals;
  // The bitcode module of each identifier, for lazy loading by the importer.
  // The buffers belong to the Rust side and outlive the index.
  std::map<std::string, llvm::BitcodeModule> modules;
  // Identifiers of import sources attached to an index read from a file
  // (distributed backend); heap strings for the same reason as moduleIds.
  std::vector<std::unique_ptr<std::string>> sourceIds;
  llvm::DenseMap<llvm::StringRef, llvm::GVSummaryMapTy> definedPerModule;
  llvm::FunctionImporter::ImportListsTy importLists;
  llvm::DenseMap<llvm::StringRef, llvm::FunctionImporter::ExportSetTy> exportLists;
  llvm::StringMap<std::map<llvm::GlobalValue::GUID, llvm::GlobalValue::LinkageTypes>> resolvedLinkages;
  // GUID -> identifier of the module whose copy prevails (index-owned string).
  llvm::DenseMap<llvm::GlobalValue::GUID, llvm::StringRef> prevailing;
  llvm::DenseSet<llvm::GlobalValue::GUID> preserved;
  // Whole-program devirtualization on the index: what it exported, and the
  // local targets whose names change if they are promoted.
  std::set<llvm::GlobalValue::GUID> devirtualizationExports;
  std::map<llvm::ValueInfo, std::vector<llvm::VTableSlotSummary>> localDevirtualizationTargets;
  bool importsComputed = false;
  // Each module's own hash (from its bitcode) once the index's hashes name
  // modules instead (ltoe_thin_index_stable_promotion_names): what keys
  // must take for content.
  llvm::StringMap<llvm::ModuleHash> contentHashes;

  // The hash of a module's content: its bitcode's, whatever the index's
  // module table now holds.
  llvm::ModuleHash contentHash(llvm::StringRef path) const {
    auto it = contentHashes.find(path);
    return it == contentHashes.end() ? index.getModuleHash(path) : it->second;
  }

  bool isPrevailing(llvm::GlobalValue::GUID guid, const llvm::GlobalValueSummary *summary) const {
    auto it = prevailing.find(guid);
    return it != prevailing.end() && it->second == summary->modulePath();
  }

  // The index's own copy of a module identifier, or "" when unknown.
  llvm::StringRef modulePath(llvm::StringRef id) const {
    auto it = index.modulePaths().find(id);
    return it == index.modulePaths().end() ? llvm::StringRef() : it->first();
  }
};

namespace ltoe {
// An import source loaded lazily into `context`, as the importer wants it
// (metadata loaded on demand), from the buffer the index was built from,
// under its identifier: the backend's import and the finer key's probe
// load sources alike.
inline llvm::Expected<std::unique_ptr<llvm::Module>>
lazySource(const LtoeThinIndex *thin, llvm::StringRef id, llvm::LLVMContext &context) {
  auto it = thin->modules.find(id.str());
  if (it == thin->modules.end())
    return llvm::createStringError("import source '" + id.str() + "' is not in the ThinLTO index");
  llvm::BitcodeModule source = it->second;
  auto lazy = source.getLazyModule(context, /*ShouldLazyLoadMetadata=*/true,
                                   /*IsImporting=*/true);
  if (!lazy)
    return lazy.takeError();
  (*lazy)->setModuleIdentifier(id);
  return lazy;
}

// The error of a call naming a module the index does not hold.
inline int unknownModule(const char *moduleId, char **err) {
  return fail(std::string("module identifier '") + moduleId + "' is not in the ThinLTO index",
              err);
}

// Writers that skip the module hash leave it zero. LLVM then names every
// promoted local `<name>.llvm.0` whatever its module, and cannot cache the
// module; the SHA-1 of the module's bytes serves both purposes. The thin
// link and the distributed backend's module check must fill it the same way,
// hence this one place.
inline void fillMissingModuleHash(llvm::ModuleHash &hash, const char *data, size_t len) {
  if (!llvm::all_of(hash, [](uint32_t word) { return word == 0; }))
    return;
  auto digest =
      llvm::SHA1::hash(llvm::ArrayRef<uint8_t>(reinterpret_cast<const uint8_t *>(data), len));
  static_assert(sizeof(digest) == sizeof(llvm::ModuleHash), "SHA-1 fills a module hash");
  std::memcpy(hash.data(), digest.data(), sizeof(llvm::ModuleHash));
}
} // namespace ltoe
