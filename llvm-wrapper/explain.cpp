// What `explain` reads from LLVM: the combined index's summaries as a graph
// (the thin link's decisions are recomputed from it in Rust, never here), and
// the demangler. A bitcode file's symbols with their comdats are read in
// symbols.cpp, with the linker's.
#include "thin_index.h"

using namespace llvm;

namespace {
enum : uint8_t {
  SummaryLive = 1,
  SummaryNotEligibleToImport = 2,
  SummaryNoInline = 4,
  SummaryAlwaysInline = 8,
  SummaryDsoLocal = 16,
  SummaryInterposable = 32,
  SummaryLocal = 64,
};

uint8_t summaryKind(const GlobalValueSummary &summary) {
  switch (summary.getSummaryKind()) {
  case GlobalValueSummary::FunctionKind:
    return LTOE_SUMMARY_FUNCTION;
  case GlobalValueSummary::GlobalVarKind:
    return LTOE_SUMMARY_VARIABLE;
  case GlobalValueSummary::AliasKind:
    return LTOE_SUMMARY_ALIAS;
  }
  return LTOE_SUMMARY_VARIABLE;
}

uint8_t linkageCode(GlobalValue::LinkageTypes linkage) {
  switch (linkage) {
  case GlobalValue::ExternalLinkage:
    return LTOE_GV_EXTERNAL;
  case GlobalValue::AvailableExternallyLinkage:
    return LTOE_GV_AVAILABLE_EXTERNALLY;
  case GlobalValue::LinkOnceAnyLinkage:
    return LTOE_GV_LINKONCE_ANY;
  case GlobalValue::LinkOnceODRLinkage:
    return LTOE_GV_LINKONCE_ODR;
  case GlobalValue::WeakAnyLinkage:
    return LTOE_GV_WEAK_ANY;
  case GlobalValue::WeakODRLinkage:
    return LTOE_GV_WEAK_ODR;
  case GlobalValue::AppendingLinkage:
    return LTOE_GV_APPENDING;
  case GlobalValue::InternalLinkage:
    return LTOE_GV_INTERNAL;
  case GlobalValue::PrivateLinkage:
    return LTOE_GV_PRIVATE;
  case GlobalValue::ExternalWeakLinkage:
    return LTOE_GV_EXTERN_WEAK;
  case GlobalValue::CommonLinkage:
    return LTOE_GV_COMMON;
  }
  return LTOE_GV_EXTERNAL;
}

uint8_t hotnessCode(CalleeInfo::HotnessType hotness) {
  switch (hotness) {
  case CalleeInfo::HotnessType::Unknown:
    return LTOE_HOTNESS_UNKNOWN;
  case CalleeInfo::HotnessType::Cold:
    return LTOE_HOTNESS_COLD;
  case CalleeInfo::HotnessType::None:
    return LTOE_HOTNESS_NONE;
  case CalleeInfo::HotnessType::Hot:
    return LTOE_HOTNESS_HOT;
  case CalleeInfo::HotnessType::Critical:
    return LTOE_HOTNESS_CRITICAL;
  }
  return LTOE_HOTNESS_UNKNOWN;
}
} // namespace

// Layout (little-endian, strings as u32 length + bytes):
//   u32 modules; per module in ordinal order: u32 n, n x u64 GUID, in the
//   order the importer walked the module's definitions (its DenseMap's);
//   then to the end, per index entry: u64 GUID, string name, u32 summaries,
//   each: u32 module ordinal, u8 kind (LTOE_SUMMARY_*), u8 linkage (LLVM's
//   LTOE_GV_*), u8 visibility (LTOE_VISIBILITY_*), u8 flags (Summary*), u32
//   instruction count (functions), u64 aliasee GUID (aliases, else 0),
//   u32 calls, each u64 GUID + u8 hotness (LTOE_HOTNESS_*),
//   u32 refs, each u64 GUID.
extern "C" int ltoe_thin_index_graph(const LtoeThinIndex *thin, LtoeBuffer **out, char **err) {
  if (!thin->importsComputed)
    return ltoe::fail("the index's graph is read after the thin link's imports", err);
  auto buffer = std::make_unique<LtoeBuffer>();
  std::string &data = buffer->data;
  ltoe::put<uint32_t>(data, static_cast<uint32_t>(thin->moduleIds.size()));
  for (const auto &id : thin->moduleIds) {
    auto defined = thin->definedPerModule.find(thin->modulePath(*id));
    if (defined == thin->definedPerModule.end()) {
      ltoe::put<uint32_t>(data, 0);
      continue;
    }
    ltoe::put<uint32_t>(data, static_cast<uint32_t>(defined->second.size()));
    for (const auto &entry : defined->second)
      ltoe::put<uint64_t>(data, entry.first);
  }
  for (const auto &entry : thin->index) {
    ValueInfo info = thin->index.getValueInfo(entry);
    const auto &list = entry.second.getSummaryList();
    ltoe::put<uint64_t>(data, entry.first);
    ltoe::putString(data, info.name());
    uint32_t known = 0;
    for (const auto &summary : list)
      known += thin->ordinals.count(summary->modulePath()) ? 1 : 0;
    ltoe::put<uint32_t>(data, known);
    for (const auto &summary : list) {
      auto ordinal = thin->ordinals.find(summary->modulePath());
      if (ordinal == thin->ordinals.end())
        continue;
      ltoe::put<uint32_t>(data, ordinal->second);
      ltoe::put<uint8_t>(data, summaryKind(*summary));
      ltoe::put<uint8_t>(data, linkageCode(summary->linkage()));
      ltoe::put<uint8_t>(data, ltoe::visibilityCode(summary->getVisibility()));
      uint8_t flags = 0;
      if (thin->index.isGlobalValueLive(summary.get()))
        flags |= SummaryLive;
      if (summary->notEligibleToImport())
        flags |= SummaryNotEligibleToImport;
      if (summary->isDSOLocal())
        flags |= SummaryDsoLocal;
      if (GlobalValue::isInterposableLinkage(summary->linkage()))
        flags |= SummaryInterposable;
      if (GlobalValue::isLocalLinkage(summary->linkage()))
        flags |= SummaryLocal;
      const auto *function = dyn_cast<FunctionSummary>(summary.get());
      if (function && function->fflags().NoInline)
        flags |= SummaryNoInline;
      if (function && function->fflags().AlwaysInline)
        flags |= SummaryAlwaysInline;
      ltoe::put<uint8_t>(data, flags);
      ltoe::put<uint32_t>(data, function ? function->instCount() : 0);
      const auto *alias = dyn_cast<AliasSummary>(summary.get());
      ltoe::put<uint64_t>(data, alias && alias->hasAliasee() ? alias->getAliaseeGUID() : 0);
      if (function) {
        ltoe::put<uint32_t>(data, static_cast<uint32_t>(function->calls().size()));
        for (const auto &call : function->calls()) {
          ltoe::put<uint64_t>(data, call.first.getGUID());
          ltoe::put<uint8_t>(data, hotnessCode(call.second.getHotness()));
        }
      } else {
        ltoe::put<uint32_t>(data, 0);
      }
      ltoe::put<uint32_t>(data, static_cast<uint32_t>(summary->refs().size()));
      for (const ValueInfo &ref : summary->refs())
        ltoe::put<uint64_t>(data, ref.getGUID());
    }
  }
  *out = buffer.release();
  return 0;
}

// `name` demangled (Itanium C++, Rust v0 and legacy, D, MSVC), or "" when
// it is not a mangled name LLVM knows.
#include "llvm/Demangle/Demangle.h"

extern "C" void ltoe_demangle(const char *name, LtoeBuffer **out) {
  auto buffer = std::make_unique<LtoeBuffer>();
  std::string demangled = llvm::demangle(std::string_view(name));
  if (demangled != name)
    buffer->data = std::move(demangled);
  *out = buffer.release();
}
