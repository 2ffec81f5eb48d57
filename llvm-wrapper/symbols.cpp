// The symbol table of a bitcode file as a linker sees it (LLVM's irsymtab,
// what lld reads): which names each module defines and which it needs.
#include "common.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/LTO/LTO.h"
#include "llvm/Object/IRSymtab.h"
#include "llvm/TargetParser/Triple.h"
#include "llvm/Support/MemoryBuffer.h"

using namespace llvm;

// One record per symbol of every module in the file: u8 flags (1 undefined,
// 2 weak, 4 common, 8 hidden or internal visibility, 16 used by the
// compiler, 32 executable code), then the name.
extern "C" int ltoe_bitcode_symbols(const char *data, size_t len, LtoeBuffer **out, char **err) {
  MemoryBufferRef buffer(StringRef(data, len), "");
  Expected<BitcodeFileContents> contents = getBitcodeFileContents(buffer);
  if (!contents)
    return ltoe::fail(contents.takeError(), err);
  Expected<irsymtab::FileContents> table = irsymtab::readBitcode(*contents);
  if (!table)
    return ltoe::fail(table.takeError(), err);
  // The reader points into `table` (a symtab built here) or into the file.
  const irsymtab::Reader &reader = table->TheReader;
  auto buffer_out = std::make_unique<LtoeBuffer>();
  for (unsigned i = 0; i != reader.getNumModules(); ++i) {
    for (const irsymtab::Reader::SymbolRef &symbol : reader.module_symbols(i)) {
      uint8_t flags = 0;
      if (symbol.isUndefined())
        flags |= 1;
      if (symbol.isWeak())
        flags |= 2;
      if (symbol.isCommon())
        flags |= 4;
      if (symbol.getVisibility() != GlobalValue::DefaultVisibility)
        flags |= 8;
      if (symbol.isUsed())
        flags |= 16;
      if (symbol.isExecutable())
        flags |= 32;
      ltoe::put<uint8_t>(buffer_out->data, flags);
      ltoe::putString(buffer_out->data, symbol.getName());
    }
  }
  *out = buffer_out.release();
  return 0;
}

extern "C" void ltoe_runtime_libcall_symbols(const char *triple, LtoeBuffer **out) {
  auto buffer_out = std::make_unique<LtoeBuffer>();
  for (const char *name : lto::LTO::getRuntimeLibcallSymbols(Triple(triple))) {
    buffer_out->data.append(name);
    buffer_out->data.push_back('\0');
  }
  *out = buffer_out.release();
}

extern "C" int ltoe_bitcode_triple(const char *data, size_t len, LtoeBuffer **out, char **err) {
  Expected<std::string> triple = getBitcodeTargetTriple(MemoryBufferRef(StringRef(data, len), ""));
  if (!triple)
    return ltoe::fail(triple.takeError(), err);
  *out = new LtoeBuffer{std::move(*triple)};
  return 0;
}

extern "C" void ltoe_triple_arch(const char *triple, LtoeBuffer **out) {
  Triple parsed(triple);
  *out = new LtoeBuffer{Triple::getArchTypeName(parsed.getArch()).str()};
}
