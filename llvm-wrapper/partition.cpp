// Fat LTO code generation partitions: LLVM's SplitModule, each partition
// serialized so that it can be parsed into its own context and compiled on
// its own thread, and the two repairs the Rust side asks for afterwards
// (giving a definition its local linkage back, renaming a promoted local).
#include "common.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/IR/Module.h"
#include "llvm/Object/ModuleSymbolTable.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Transforms/Utils/ModuleUtils.h"
#include "llvm/Transforms/Utils/SplitModule.h"
#include "llvm-c/Core.h"

#include <algorithm>
#include <set>
#include <vector>

using namespace llvm;

namespace {
// What happened to one definition that had local linkage before the split.
struct LocalFate {
  uint8_t linkage = 0; // 0 internal, 1 private
  uint32_t defined_in = UINT32_MAX;
  std::set<uint32_t> used_in; // partitions with a used declaration of it
  bool in_module_asm = false;
};

// Where a definition the late passes could drop when unused (linkonce,
// not local: preserved, so not internalized) went, and who uses it.
struct DiscardableFate {
  uint32_t defined_in = UINT32_MAX;
  std::set<uint32_t> used_in;
};

} // namespace

extern "C" int ltoe_split_module(LLVMModuleRef module, unsigned count, LtoeBuffer **parts,
                                 LtoeBuffer **locals, LtoeBuffer **shared, char **err) {
  Module &M = *unwrap(module);
  if (count == 0)
    return ltoe::fail(std::string("partition count must be at least 1"), err);

  // The locals, by identity: SplitModule gives the unnamed ones a name and
  // every one of them external linkage, so names are read after it ran.
  std::vector<std::pair<GlobalValue *, uint8_t>> originalLocals;
  for (GlobalValue &GV : M.global_values())
    if (!GV.isDeclaration() && GV.hasLocalLinkage())
      originalLocals.push_back({&GV, GV.hasPrivateLinkage() ? uint8_t(1) : uint8_t(0)});
  // SplitModule places these by name and leaves their linkage alone: a
  // copy may land in another partition than its users, where nothing
  // uses it (available_externally ones are dropped in every partition
  // alike, so they don't count).
  std::vector<GlobalValue *> originalDiscardable;
  for (GlobalValue &GV : M.global_values())
    if (!GV.isDeclaration() && GV.hasLinkOnceLinkage())
      originalDiscardable.push_back(&GV);

  // Names module-level asm defines or refers to: the asm stays in partition
  // 0 and refers to them by name, so those locals keep their names.
  StringMap<bool> asmNames;
  if (!M.getModuleInlineAsm().empty()) {
    ModuleSymbolTable::CollectAsmSymbols(
        M, [&](StringRef name, object::BasicSymbolRef::Flags) { asmNames[name] = true; });
  }

  StringMap<LocalFate> fates;
  StringMap<DiscardableFate> discardable;
  bool namesRead = false;
  std::vector<std::string> serialized;
  serialized.reserve(count);
  uint32_t index = 0;
  SplitModule(
      M, count,
      [&](std::unique_ptr<Module> part) {
        if (!namesRead) {
          for (auto &[gv, linkage] : originalLocals) {
            LocalFate &fate = fates[gv->getName()];
            fate.linkage = linkage;
            fate.in_module_asm = asmNames.count(gv->getName()) != 0;
          }
          for (GlobalValue *gv : originalDiscardable)
            discardable[gv->getName()];
          namesRead = true;
        }
        for (GlobalValue &GV : part->global_values()) {
          auto it = fates.find(GV.getName());
          if (it == fates.end())
            continue;
          if (!GV.isDeclaration())
            it->second.defined_in = index;
          else if (!GV.use_empty())
            it->second.used_in.insert(index);
        }
        for (GlobalValue &GV : part->global_values()) {
          auto it = discardable.find(GV.getName());
          if (it == discardable.end())
            continue;
          if (!GV.isDeclaration())
            it->second.defined_in = index;
          else if (!GV.use_empty())
            it->second.used_in.insert(index);
        }
        std::string bytes;
        raw_string_ostream os(bytes);
        WriteBitcodeToFile(*part, os);
        os.flush();
        serialized.push_back(std::move(bytes));
        ++index;
      },
      /*PreserveLocals=*/false);

  if (serialized.size() != count)
    return ltoe::fail("SplitModule made " + std::to_string(serialized.size()) +
                          " partitions, not " + std::to_string(count),
                      err);
  for (unsigned i = 0; i < count; ++i)
    parts[i] = new LtoeBuffer{std::move(serialized[i])};

  // Records {name, u8 linkage, u8 in module asm, u32 defining partition,
  // u32 user count, u32 users...}, sorted by name for a stable order.
  std::vector<const StringMapEntry<LocalFate> *> sorted;
  for (const auto &entry : fates)
    sorted.push_back(&entry);
  std::sort(sorted.begin(), sorted.end(),
            [](auto *a, auto *b) { return a->getKey() < b->getKey(); });
  auto *out = new LtoeBuffer{};
  for (const auto *entry : sorted) {
    const LocalFate &fate = entry->getValue();
    ltoe::putString(out->data, entry->getKey());
    ltoe::put<uint8_t>(out->data, fate.linkage);
    ltoe::put<uint8_t>(out->data, fate.in_module_asm ? 1 : 0);
    ltoe::put<uint32_t>(out->data, fate.defined_in);
    ltoe::put<uint32_t>(out->data, static_cast<uint32_t>(fate.used_in.size()));
    for (uint32_t user : fate.used_in)
      ltoe::put<uint32_t>(out->data, user);
  }
  *locals = out;

  // Records {name, u32 defining partition} of the linkonce definitions
  // used in another partition, sorted by name.
  std::vector<const StringMapEntry<DiscardableFate> *> crossing;
  for (const auto &entry : discardable) {
    const DiscardableFate &fate = entry.getValue();
    if (fate.defined_in != UINT32_MAX &&
        std::any_of(fate.used_in.begin(), fate.used_in.end(),
                    [&](uint32_t user) { return user != fate.defined_in; }))
      crossing.push_back(&entry);
  }
  std::sort(crossing.begin(), crossing.end(),
            [](auto *a, auto *b) { return a->getKey() < b->getKey(); });
  auto *sharedOut = new LtoeBuffer{};
  for (const auto *entry : crossing) {
    ltoe::putString(sharedOut->data, entry->getKey());
    ltoe::put<uint32_t>(sharedOut->data, entry->getValue().defined_in);
  }
  *shared = sharedOut;
  return 0;
}

extern "C" int ltoe_keep_definitions(LLVMModuleRef module, const char *const *names,
                                     size_t count, char **err) {
  Module &M = *unwrap(module);
  std::vector<GlobalValue *> kept;
  kept.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    GlobalValue *GV = M.getNamedValue(names[i]);
    if (!GV || GV->isDeclaration())
      return ltoe::fail(std::string("no definition named ") + names[i] + " in the partition",
                        err);
    kept.push_back(GV);
  }
  // llvm.compiler.used: passes must keep them, the object and the linker
  // see no difference.
  appendToCompilerUsed(M, kept);
  return 0;
}

extern "C" int ltoe_localize_definition(LLVMModuleRef module, const char *name, int linkage,
                                        char **err) {
  GlobalValue *GV = unwrap(module)->getNamedValue(name);
  if (!GV || GV->isDeclaration())
    return ltoe::fail(std::string("no definition named ") + name + " in the partition", err);
  // A local must have default visibility (the verifier's rule).
  GV->setVisibility(GlobalValue::DefaultVisibility);
  GV->setLinkage(linkage == 1 ? GlobalValue::PrivateLinkage : GlobalValue::InternalLinkage);
  return 0;
}

extern "C" int ltoe_rename_global(LLVMModuleRef module, const char *name, const char *new_name,
                                  char **err) {
  Module &M = *unwrap(module);
  GlobalValue *GV = M.getNamedValue(name);
  if (!GV)
    return ltoe::fail(std::string("no global named ") + name + " in the partition", err);
  if (M.getNamedValue(new_name))
    return ltoe::fail(std::string("the partition already has a global named ") + new_name, err);
  GV->setName(new_name);
  return 0;
}

#ifdef __GLIBC__
#include <malloc.h>
#endif

// Gives free heap pages back to the operating system. glibc keeps what a
// freed module used in the arena of the thread that freed it, while the
// partitions' threads allocate in arenas of their own: without this, the
// merged module's memory stays resident through the whole code generation.
extern "C" void ltoe_release_free_memory(void) {
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}
