// Bitcode: reading modules from buffers and writing ModuleBuffer / ThinBuffer.
#include "common.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/Bitcode/BitcodeWriter.h"
#include "llvm/Bitcode/LLVMBitCodes.h"
#include "llvm/Bitstream/BitstreamReader.h"
#include "llvm/IR/Constants.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/PassManager.h"
#include "llvm/Passes/PassBuilder.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Transforms/IPO/ThinLTOBitcodeWriter.h"
#include "llvm/Transforms/Utils/CanonicalizeAliases.h"
#include "llvm/Transforms/Utils/NameAnonGlobals.h"

using namespace llvm;

static MemoryBufferRef bufferRef(const char *data, size_t len, StringRef name = "") {
  return MemoryBufferRef(StringRef(data, len), name);
}

extern "C" int ltoe_bitcode_module_count(const char *data, size_t len, size_t *count, char **err) {
  auto modules = getBitcodeModuleList(bufferRef(data, len));
  if (!modules)
    return ltoe::fail(modules.takeError(), err);
  *count = modules->size();
  return 0;
}

// Reads the producer string straight from the identification block.
// getBitcodeProducerString cannot be used: it fails on the epoch check, which
// is exactly when the producer is worth telling.
static Expected<std::string> readProducer(const char *data, size_t len) {
  const unsigned char *begin = reinterpret_cast<const unsigned char *>(data);
  const unsigned char *end = begin + len;
  if (isBitcodeWrapper(begin, end) && SkipBitcodeWrapperHeader(begin, end, true))
    return createStringError("invalid bitcode wrapper header");
  if (end - begin < 4)
    return createStringError("file too small to be bitcode");
  BitstreamCursor cursor(ArrayRef<uint8_t>(begin, end));
  if (Expected<SimpleBitstreamCursor::word_t> magic = cursor.Read(32); !magic)
    return magic.takeError();
  while (!cursor.AtEndOfStream()) {
    Expected<BitstreamEntry> entry = cursor.advance();
    if (!entry)
      return entry.takeError();
    if (entry->Kind != BitstreamEntry::SubBlock)
      break;
    if (entry->ID != bitc::IDENTIFICATION_BLOCK_ID) {
      if (Error e = cursor.SkipBlock())
        return e;
      continue;
    }
    if (Error e = cursor.EnterSubBlock(entry->ID))
      return e;
    SmallVector<uint64_t, 64> record;
    while (true) {
      Expected<BitstreamEntry> inner = cursor.advance();
      if (!inner)
        return inner.takeError();
      if (inner->Kind != BitstreamEntry::Record)
        return std::string();
      record.clear();
      Expected<unsigned> code = cursor.readRecord(inner->ID, record);
      if (!code)
        return code.takeError();
      if (*code == bitc::IDENTIFICATION_CODE_STRING) {
        std::string producer;
        for (uint64_t c : record)
          producer.push_back(static_cast<char>(c));
        return producer;
      }
    }
  }
  return std::string();
}

extern "C" int ltoe_bitcode_producer(const char *data, size_t len, char **producer, char **err) {
  Expected<std::string> text = readProducer(data, len);
  if (!text)
    return ltoe::fail(text.takeError(), err);
  *producer = ltoe::dupString(*text);
  return 0;
}

extern "C" int ltoe_parse_bitcode(LLVMContextRef ctx, const char *data, size_t len,
                                  const char *name, size_t index, LLVMModuleRef *out,
                                  char **err) {
  auto modules = getBitcodeModuleList(bufferRef(data, len, name));
  if (!modules)
    return ltoe::fail(modules.takeError(), err);
  if (index >= modules->size())
    return ltoe::fail("bitcode holds " + std::to_string(modules->size()) +
                          " modules, no module #" + std::to_string(index),
                      err);
  auto module = (*modules)[index].parseModule(*unwrap(ctx));
  if (!module)
    return ltoe::fail(module.takeError(), err);
  (*module)->setModuleIdentifier(name);
  *out = wrap(module->release());
  return 0;
}

extern "C" int ltoe_write_bitcode(LLVMModuleRef moduleRef, int thin, LtoeBuffer **out,
                                  char **err) {
  Module &module = *unwrap(moduleRef);
  auto buffer = std::make_unique<LtoeBuffer>();
  raw_string_ostream os(buffer->data);
  if (!thin) {
    WriteBitcodeToFile(module, os, /*ShouldPreserveUseListOrder=*/false, /*Index=*/nullptr,
                       /*GenerateHash=*/true);
  } else {
    // clang -flto=full marks its modules "ThinLTO" = 0, and the writer then
    // emits a full-LTO summary that ThinLTO does not import from.
    if (auto *flag = mdconst::extract_or_null<ConstantInt>(module.getModuleFlag("ThinLTO")))
      if (flag->isZero())
        module.setModuleFlag(Module::Error, "ThinLTO", uint32_t(1));
    // Never split a module into a thin part and a regular-LTO part (as
    // -fsplit-lto-unit does for modules with type metadata): the thin link
    // takes one module per input and devirtualizes on the index alone, as
    // clang's -fno-split-lto-unit arranges.
    if (auto *flag =
            mdconst::extract_or_null<ConstantInt>(module.getModuleFlag("EnableSplitLTOUnit")))
      if (!flag->isZero())
        module.setModuleFlag(Module::Error, "EnableSplitLTOUnit", uint32_t(0));
    // The summary writer aborts on anonymous functions and needs canonical
    // aliases; name and canonicalize first, as clang and rustc do.
    LoopAnalysisManager lam;
    FunctionAnalysisManager fam;
    CGSCCAnalysisManager cgam;
    ModuleAnalysisManager mam;
    PassBuilder pb;
    pb.registerModuleAnalyses(mam);
    pb.registerCGSCCAnalyses(cgam);
    pb.registerFunctionAnalyses(fam);
    pb.registerLoopAnalyses(lam);
    pb.crossRegisterProxies(lam, fam, cgam, mam);
    ModulePassManager mpm;
    mpm.addPass(CanonicalizeAliasesPass());
    mpm.addPass(NameAnonGlobalPass());
    mpm.addPass(ThinLTOBitcodeWriterPass(os, nullptr));
    mpm.run(module, mam);
  }
  os.flush();
  (void)err;
  *out = buffer.release();
  return 0;
}

extern "C" int ltoe_bitcode_is_no_builtins(const char *data, size_t len, int *noBuiltins,
                                           char **err) {
  // A lazy module is enough: function attributes are read without bodies.
  LLVMContext context;
  context.setDiagnosticHandler(std::make_unique<ltoe::SilentHandler>());
  auto modules = getBitcodeModuleList(bufferRef(data, len));
  if (!modules)
    return ltoe::fail(modules.takeError(), err);
  *noBuiltins = 0;
  for (BitcodeModule &bitcode : *modules) {
    auto module = bitcode.getLazyModule(context, /*ShouldLazyLoadMetadata=*/true,
                                        /*IsImporting=*/false);
    if (!module)
      return ltoe::fail(module.takeError(), err);
    for (const Function &function : **module) {
      if (!function.isDeclaration() && function.hasFnAttribute("no-builtins")) {
        *noBuiltins = 1;
        return 0;
      }
    }
  }
  return 0;
}

extern "C" int ltoe_bitcode_has_datalayout(const char *data, size_t len, size_t which,
                                           int *hasDataLayout, char **err) {
  auto contents = getBitcodeFileContents(bufferRef(data, len));
  if (!contents)
    return ltoe::fail(contents.takeError(), err);
  if (which >= contents->Mods.size())
    return ltoe::fail("no module #" + std::to_string(which) + " in the bitcode", err);
  // The bitcode writer writes a symbol table only when irsymtab::build
  // succeeds, and that refuses a module without a datalayout: with a symbol
  // table, every module has one. Without (an older writer, a target without
  // an assembly parser), the module's header records tell.
  if (!contents->Symtab.empty()) {
    *hasDataLayout = 1;
    return 0;
  }
  LLVMContext context;
  context.setDiagnosticHandler(std::make_unique<ltoe::SilentHandler>());
  auto module = contents->Mods[which].getLazyModule(context, /*ShouldLazyLoadMetadata=*/true,
                                                    /*IsImporting=*/false);
  if (!module)
    return ltoe::fail(module.takeError(), err);
  *hasDataLayout = (*module)->getDataLayoutStr().empty() ? 0 : 1;
  return 0;
}

extern "C" int ltoe_module_uses_cfi(LLVMModuleRef moduleRef) {
  const Module &module = *unwrap(moduleRef);
  // clang -fsanitize=cfi* lists the functions whose jump tables it needs and
  // marks the module; plain -fwhole-program-vtables does neither.
  return module.getNamedMetadata("cfi.functions") ||
                 module.getModuleFlag("CFI Canonical Jump Tables")
             ? 1
             : 0;
}
