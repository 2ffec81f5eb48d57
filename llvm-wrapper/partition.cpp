// Fat LTO code generation partitions: the optimized module planned into
// partitions (placed as LLVM's SplitModule places a definition on its own,
// by the MD5 of its name) and written once as bitcode; each partition then
// loads from it, in a context of its own on its own thread, only the
// definitions it holds. Also the repairs the Rust side asks for afterwards
// (giving a definition its local linkage back, renaming a promoted local).
#include "common.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/IR/Module.h"
#include "llvm/Object/ModuleSymbolTable.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Transforms/Utils/ModuleUtils.h"
#include "llvm/ADT/SmallPtrSet.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/DebugInfoMetadata.h"
#include "llvm/IR/Instructions.h"
#include "llvm/Support/MD5.h"
#include "llvm-c/Core.h"

#include <algorithm>
#include <deque>
#include <set>
#include <vector>

using namespace llvm;


namespace {
// Definitions that must share a partition: an alias or ifunc and its root
// object, the members of a comdat, a function and the users of its block
// addresses (as LLVM's SplitModule keeps them together). A union-find.
class Clusters {
public:
  const GlobalValue *find(const GlobalValue *gv) {
    auto it = parent.find(gv);
    if (it == parent.end() || it->second == gv)
      return gv;
    const GlobalValue *root = find(it->second);
    parent[gv] = root;
    return root;
  }
  void unite(const GlobalValue *a, const GlobalValue *b) {
    const GlobalValue *ra = find(a), *rb = find(b);
    if (ra == rb)
      return;
    // Deterministic: the root does not depend on the order of calls.
    if (rb->getName() < ra->getName())
      std::swap(ra, rb);
    parent[rb] = ra;
    parent.try_emplace(ra, ra);
  }

private:
  DenseMap<const GlobalValue *, const GlobalValue *> parent;
};

const GlobalObject *partitioningRoot(const GlobalValue &gv) {
  const GlobalObject *root = gv.getAliaseeObject();
  if (const auto *ifunc = dyn_cast_or_null<GlobalIFunc>(root))
    root = ifunc->getResolverFunction();
  return root;
}

// The name a definition is placed by: its root's comdat, else its root's
// name (SplitModule's rule for a definition on its own).
StringRef placementName(const GlobalValue &gv) {
  const GlobalValue *root = partitioningRoot(gv);
  if (!root)
    root = &gv;
  if (const Comdat *comdat = root->getComdat())
    return comdat->getName();
  return root->getName();
}

// The metadata kind that names the input module a definition came from
// (ltoe_tag_origin), read by the plan and dropped before it writes.
constexpr const char *OriginKind = "ltoe.origin";

// The input module `gv` (its root object) came from, if tagged.
StringRef originOf(const GlobalValue &gv) {
  const GlobalObject *root = partitioningRoot(gv);
  if (!root)
    root = dyn_cast<GlobalObject>(&gv);
  if (!root)
    return {};
  if (MDNode *node = root->getMetadata(OriginKind))
    if (node->getNumOperands() == 1)
      if (auto *text = dyn_cast_or_null<MDString>(node->getOperand(0).get()))
        return text->getString();
  return {};
}

// Calls `each(list, entry)` with every entry of the appending list
// `name` (llvm.global_ctors, llvm.used, ...) when the module defines it.
template <typename F> void forEachListEntry(Module &M, StringRef name, F each) {
  GlobalVariable *list = M.getGlobalVariable(name);
  if (!list || !list->hasInitializer())
    return;
  if (const auto *entries = dyn_cast<ConstantArray>(list->getInitializer()))
    for (const Use &entry : entries->operands())
      each(list, cast<Constant>(entry.get()));
}

// The partition of a placement name: the low 16 bits of its MD5, modulo
// the count, as SplitModule places a definition on its own. A function of
// the name alone: an edit elsewhere in the program moves nothing.
uint32_t nameHash16(StringRef name) {
  MD5 hash;
  MD5::MD5Result result;
  hash.update(name);
  hash.final(result);
  return uint32_t(result[0]) | (uint32_t(result[1]) << 8);
}

uint32_t partitionOfName(StringRef name, unsigned count) { return nameHash16(name) % count; }

// Calls `each` with every global value that uses `value`, through
// constants: an instruction's function, a global's initializer, an alias.
template <typename F> void forEachGlobalUser(const Value *value, F each) {
  SmallVector<const User *, 8> worklist(value->user_begin(), value->user_end());
  SmallPtrSet<const User *, 8> seen;
  while (!worklist.empty()) {
    const User *user = worklist.pop_back_val();
    if (!seen.insert(user).second)
      continue;
    if (const auto *inst = dyn_cast<Instruction>(user)) {
      each(inst->getFunction());
    } else if (const auto *global = dyn_cast<GlobalValue>(user)) {
      each(global);
    } else if (isa<Constant>(user)) {
      worklist.append(user->user_begin(), user->user_end());
    }
  }
}
} // namespace

extern "C" int ltoe_split_plan(LLVMModuleRef module, unsigned count, int by_origin,
                               LtoeBuffer **bitcode, LtoeBuffer **members, LtoeBuffer **locals,
                               LtoeBuffer **shared, char **err) {
  Module &M = *unwrap(module);
  if (count == 0)
    return ltoe::fail(std::string("partition count must be at least 1"), err);

  // The locals, by identity, before they are made hidden globals so that
  // partitions can refer to each other; their fates are read afterwards.
  std::vector<std::pair<GlobalValue *, uint8_t>> originalLocals;
  for (GlobalValue &GV : M.global_values())
    if (!GV.isDeclaration() && GV.hasLocalLinkage())
      originalLocals.push_back({&GV, GV.hasPrivateLinkage() ? uint8_t(1) : uint8_t(0)});
  // These are placed by name and keep their linkage: a copy may land in
  // another partition than its users, where nothing uses it
  // (available_externally ones are dropped in every partition alike).
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

  for (GlobalValue &GV : M.global_values()) {
    if (GV.hasLocalLinkage()) {
      GV.setLinkage(GlobalValue::ExternalLinkage);
      GV.setVisibility(GlobalValue::HiddenVisibility);
    }
    // Every partition loads the module by these names: each must be one.
    if (!GV.hasName())
      GV.setName("__llvmsplit_unnamed");
  }

  Clusters clusters;
  DenseMap<const Comdat *, const GlobalValue *> comdatMember;
  for (GlobalValue &GV : M.global_values()) {
    if (GV.isDeclaration())
      continue;
    if (const Comdat *comdat = GV.getComdat()) {
      auto [it, first] = comdatMember.try_emplace(comdat, &GV);
      if (!first)
        clusters.unite(it->second, &GV);
    }
    if (const GlobalObject *root = partitioningRoot(GV))
      if (root != &GV)
        clusters.unite(&GV, root);
    if (const auto *F = dyn_cast<Function>(&GV))
      for (const BasicBlock &BB : *F)
        if (BlockAddress *address = BlockAddress::lookup(&BB))
          forEachGlobalUser(address, [&](const GlobalValue *user) { clusters.unite(F, user); });
  }
  // A constructor or destructor with an associated global (a template's
  // static data member, its guard, the initializer in its comdat) is only
  // emitted where that global is defined (elsewhere "another unit provides
  // its initializer"): the list and those globals share a partition.
  auto uniteDefined = [&](const GlobalValue *list, const Value *value) {
    if (const auto *gv = dyn_cast<GlobalValue>(value->stripPointerCasts()))
      if (!gv->isDeclaration())
        clusters.unite(list, gv);
  };
  for (const char *list : {"llvm.global_ctors", "llvm.global_dtors"})
    forEachListEntry(M, list, [&](const GlobalValue *structors, const Constant *entry) {
      if (const auto *fields = dyn_cast<ConstantStruct>(entry))
        if (fields->getNumOperands() == 3)
          uniteDefined(structors, fields->getOperand(2));
    });
  // What `llvm.used` names is retained where it is defined (on ELF its
  // section gets SHF_GNU_RETAIN there), and what `llvm.compiler.used` names
  // is kept by the passes of its own partition: each list and its members
  // share a partition.
  for (const char *list : {"llvm.used", "llvm.compiler.used"})
    forEachListEntry(M, list, uniteDefined);
  // A global whose section is linked to another's (`!associated`) is
  // emitted with it.
  for (GlobalObject &GO : M.global_objects()) {
    if (GO.isDeclaration())
      continue;
    if (MDNode *associated = GO.getMetadata(LLVMContext::MD_associated))
      if (associated->getNumOperands() == 1)
        if (auto *value = dyn_cast_or_null<ValueAsMetadata>(associated->getOperand(0).get()))
          if (auto *other = dyn_cast<GlobalValue>(value->getValue()->stripPointerCasts()))
            if (!other->isDeclaration())
              clusters.unite(&GO, other);
  }
  // With origins (a cache asks for them), a definition is placed by the
  // input module it came from, so that an edit of one source stays in few
  // partitions (debug info ties every function of a file to the file's
  // checksum): `<origin>#<bucket>`, the bucket picked by the MD5 of its
  // own placement name among ceil(size / OriginChunk) for a large origin,
  // so that one large input still spreads. Sizes move the buckets only
  // when an origin crosses a multiple of the chunk.
  constexpr uint64_t OriginChunk = 25000;
  StringMap<uint64_t> originSize;
  if (by_origin)
    for (Function &F : M)
      if (!F.isDeclaration())
        originSize[originOf(F)] += F.getInstructionCount();
  std::deque<std::string> placements; // stable addresses for the StringRefs
  auto placementOf = [&](const GlobalValue &gv) -> StringRef {
    StringRef own = placementName(gv);
    if (!by_origin)
      return own;
    StringRef origin = originOf(gv);
    if (origin.empty())
      return own;
    uint64_t buckets = std::max<uint64_t>(1, (originSize.lookup(origin) + OriginChunk - 1) / OriginChunk);
    placements.push_back(origin.str() + "#" +
                         std::to_string(nameHash16(own) % buckets));
    return placements.back();
  };
  // A cluster goes where its least placement name goes; one that holds a
  // constructor list goes where the list goes, so that a new constructor
  // does not move the others.
  DenseMap<const GlobalValue *, std::pair<bool, StringRef>> clusterName;
  for (GlobalValue &GV : M.global_values()) {
    if (GV.isDeclaration())
      continue;
    std::pair<bool, StringRef> name{!GV.hasAppendingLinkage(), placementOf(GV)};
    auto [it, first] = clusterName.try_emplace(clusters.find(&GV), name);
    if (!first && name < it->second)
      it->second = name;
  }
  // The tags have done their work: the partitions do not carry them.
  unsigned originKind = M.getContext().getMDKindID(OriginKind);
  for (GlobalObject &GO : M.global_objects())
    GO.setMetadata(originKind, nullptr);
  DenseMap<const GlobalValue *, uint32_t> partitionOf;
  std::vector<std::vector<StringRef>> names(count);
  std::vector<uint64_t> sizes(count, 0);
  for (GlobalValue &GV : M.global_values()) {
    if (GV.isDeclaration())
      continue;
    uint32_t partition = partitionOfName(clusterName[clusters.find(&GV)].second, count);
    partitionOf[&GV] = partition;
    names[partition].push_back(GV.getName());
    if (const auto *F = dyn_cast<Function>(&GV))
      sizes[partition] += F->getInstructionCount();
    else
      sizes[partition] += 1;
  }
  auto usersOf = [&](const GlobalValue *GV) {
    std::set<uint32_t> users;
    forEachGlobalUser(GV, [&](const GlobalValue *user) {
      auto it = partitionOf.find(user);
      if (it != partitionOf.end())
        users.insert(it->second);
    });
    return users;
  };

  // Records {name, u8 linkage, u8 in module asm, u32 defining partition,
  // u32 user count, u32 users...} (the partitions other than its own that
  // use it), sorted by name for a stable order.
  std::sort(originalLocals.begin(), originalLocals.end(),
            [](auto &a, auto &b) { return a.first->getName() < b.first->getName(); });
  auto *localsOut = new LtoeBuffer{};
  for (auto &[gv, linkage] : originalLocals) {
    uint32_t definedIn = partitionOf[gv];
    std::set<uint32_t> users = usersOf(gv);
    users.erase(definedIn);
    ltoe::putString(localsOut->data, gv->getName());
    ltoe::put<uint8_t>(localsOut->data, linkage);
    ltoe::put<uint8_t>(localsOut->data, asmNames.count(gv->getName()) ? 1 : 0);
    ltoe::put<uint32_t>(localsOut->data, definedIn);
    ltoe::put<uint32_t>(localsOut->data, static_cast<uint32_t>(users.size()));
    for (uint32_t user : users)
      ltoe::put<uint32_t>(localsOut->data, user);
  }
  *locals = localsOut;

  // Records {name, u32 defining partition} of the linkonce definitions
  // used in another partition, sorted by name.
  std::sort(originalDiscardable.begin(), originalDiscardable.end(),
            [](auto *a, auto *b) { return a->getName() < b->getName(); });
  auto *sharedOut = new LtoeBuffer{};
  for (GlobalValue *gv : originalDiscardable) {
    uint32_t definedIn = partitionOf[gv];
    std::set<uint32_t> users = usersOf(gv);
    users.erase(definedIn);
    if (users.empty())
      continue;
    ltoe::putString(sharedOut->data, gv->getName());
    ltoe::put<uint32_t>(sharedOut->data, definedIn);
  }
  *shared = sharedOut;

  // Per partition: {u64 size (instructions, a global counting one), u32
  // count, names of the definitions it holds}.
  auto *membersOut = new LtoeBuffer{};
  for (unsigned i = 0; i < count; ++i) {
    ltoe::put<uint64_t>(membersOut->data, sizes[i]);
    ltoe::put<uint32_t>(membersOut->data, static_cast<uint32_t>(names[i].size()));
    for (StringRef name : names[i])
      ltoe::putString(membersOut->data, name);
  }
  *members = membersOut;

  // Written once; each partition loads from it what it holds.
  auto *out = new LtoeBuffer{};
  raw_string_ostream os(out->data);
  WriteBitcodeToFile(M, os);
  os.flush();
  *bitcode = out;
  return 0;
}

extern "C" void ltoe_tag_origin(LLVMModuleRef module, const char *origin) {
  Module &M = *unwrap(module);
  LLVMContext &context = M.getContext();
  MDNode *tag = MDNode::get(context, MDString::get(context, origin));
  for (GlobalObject &GO : M.global_objects())
    if (!GO.isDeclaration())
      GO.setMetadata(OriginKind, tag);
}

namespace {
// Replaces an alias or ifunc another partition holds by a declaration of
// its value type, under its name (an alias cannot declare anything).
void replaceByDeclaration(Module &M, GlobalValue &gv) {
  GlobalValue *declaration;
  if (auto *type = dyn_cast<FunctionType>(gv.getValueType()))
    declaration = Function::Create(type, GlobalValue::ExternalLinkage, gv.getAddressSpace(), "", &M);
  else
    declaration = new GlobalVariable(M, gv.getValueType(), false, GlobalValue::ExternalLinkage,
                                     nullptr, "", nullptr, gv.getThreadLocalMode(),
                                     gv.getType()->getAddressSpace());
  declaration->setVisibility(gv.getVisibility());
  declaration->setDLLStorageClass(gv.getDLLStorageClass());
  declaration->setUnnamedAddr(gv.getUnnamedAddr());
  declaration->setThreadLocalMode(gv.getThreadLocalMode());
  declaration->setDSOLocal(gv.isDSOLocal());
  if (gv.hasPartition())
    declaration->setPartition(gv.getPartition());
  gv.replaceAllUsesWith(declaration);
  declaration->takeName(&gv);
  gv.eraseFromParent();
}
} // namespace

namespace {
// Adds to `reached` the compile unit of every subprogram `location` is in,
// inlined ones included.
void reachUnits(const DILocation *location, SmallPtrSetImpl<const DICompileUnit *> &reached) {
  for (; location; location = location->getInlinedAt())
    if (const DISubprogram *subprogram = location->getScope()->getSubprogram())
      if (const DICompileUnit *unit = subprogram->getUnit())
        reached.insert(unit);
}

// Keeps in llvm.dbg.cu the compile units the partition's code and globals
// reach: every partition carried every unit, so an edit of one file (its
// unit names the file's checksum) changed them all. Partition 0 keeps them
// all (a unit nothing reaches still describes types and globals). A unit
// reached some other way leaves debug info the verifier rejects: the
// caller verifies, and loads the partition again without this.
void pruneCompileUnits(Module &M) {
  NamedMDNode *units = M.getNamedMetadata("llvm.dbg.cu");
  if (!units || units->getNumOperands() < 2)
    return;
  SmallPtrSet<const DICompileUnit *, 16> reached;
  for (Function &F : M) {
    if (F.isDeclaration())
      continue;
    if (const DISubprogram *subprogram = F.getSubprogram())
      if (const DICompileUnit *unit = subprogram->getUnit())
        reached.insert(unit);
    for (BasicBlock &BB : F)
      for (Instruction &I : BB) {
        reachUnits(I.getDebugLoc().get(), reached);
        for (DbgRecord &record : I.getDbgRecordRange())
          reachUnits(record.getDebugLoc().get(), reached);
      }
  }
  SmallPtrSet<const DIGlobalVariableExpression *, 16> defined;
  for (GlobalVariable &GV : M.globals()) {
    if (GV.isDeclaration())
      continue;
    SmallVector<DIGlobalVariableExpression *, 1> expressions;
    GV.getDebugInfo(expressions);
    defined.insert(expressions.begin(), expressions.end());
  }
  std::vector<MDNode *> all(units->op_begin(), units->op_end());
  std::vector<MDNode *> kept;
  for (MDNode *node : all) {
    const auto *unit = dyn_cast<DICompileUnit>(node);
    bool keep = !unit || reached.count(unit);
    if (!keep)
      for (const DIGlobalVariableExpression *expression : unit->getGlobalVariables())
        if (defined.count(expression)) {
          keep = true;
          break;
        }
    if (keep)
      kept.push_back(node);
  }
  if (kept.size() == all.size())
    return;
  units->clearOperands();
  for (MDNode *node : kept)
    units->addOperand(node);
}
} // namespace

extern "C" int ltoe_load_partition(LLVMContextRef ctx, const char *data, size_t len,
                                   const char *name, const char *const *own, size_t own_count,
                                   int first, int prune_units, LLVMModuleRef *out,
                                   char **err) {
  auto lazy = getLazyBitcodeModule(MemoryBufferRef(StringRef(data, len), name), *unwrap(ctx),
                                   /*ShouldLazyLoadMetadata=*/true);
  if (!lazy)
    return ltoe::fail(lazy.takeError(), err);
  Module &M = **lazy;
  StringSet<> mine;
  for (size_t i = 0; i < own_count; ++i)
    mine.insert(own[i]);
  auto held = [&](const GlobalValue &gv) { return mine.contains(gv.getName()); };
  // What other partitions hold becomes a declaration, its body never read.
  for (Function &F : M)
    if (!F.isDeclaration() && !held(F)) {
      F.deleteBody();
      F.setComdat(nullptr);
    }
  for (GlobalVariable &GV : M.globals())
    if (!GV.isDeclaration() && !held(GV)) {
      GV.setInitializer(nullptr);
      GV.setLinkage(GlobalValue::ExternalLinkage);
      GV.setComdat(nullptr);
    }
  for (GlobalAlias &GA : make_early_inc_range(M.aliases()))
    if (!held(GA))
      replaceByDeclaration(M, GA);
  for (GlobalIFunc &GI : make_early_inc_range(M.ifuncs()))
    if (!held(GI))
      replaceByDeclaration(M, GI);
  if (!first)
    M.setModuleInlineAsm("");
  if (Error e = M.materializeAll())
    return ltoe::fail(std::move(e), err);
  // Declarations nothing here uses do not reach the object: gone, so that
  // what the partition is does not change when another one gains a
  // function (a cache keys it by its bitcode).
  std::vector<GlobalValue *> unused;
  for (GlobalValue &GV : M.global_values())
    if (GV.isDeclaration() && GV.use_empty())
      unused.push_back(&GV);
  for (GlobalValue *GV : unused)
    GV->eraseFromParent();
  if (prune_units)
    pruneCompileUnits(M);
  M.setModuleIdentifier(name);
  *out = wrap(lazy->release());
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
