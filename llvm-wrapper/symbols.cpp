// The symbol table of a bitcode file as a linker sees it (LLVM's irsymtab,
// what lld reads): which names each module defines and which it needs.
#include "common.h"
#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/LTO/LTO.h"
#include "llvm/Object/IRSymtab.h"
#include "llvm/TargetParser/Triple.h"
#include "llvm/Support/MemoryBuffer.h"

using namespace llvm;

namespace {
// The irsymtab of a bitcode file: built here when the file has none. The
// reader points into the returned contents or into the file.
Expected<irsymtab::FileContents> symbolTable(const char *data, size_t len) {
  MemoryBufferRef buffer(StringRef(data, len), "");
  Expected<BitcodeFileContents> contents = getBitcodeFileContents(buffer);
  if (!contents)
    return contents.takeError();
  return irsymtab::readBitcode(*contents);
}

// A symbol's flags: 1 undefined, 2 weak, 4 common, 8 hidden or internal
// visibility, 16 used by the compiler, 32 executable code.
uint8_t symbolFlags(const irsymtab::Reader::SymbolRef &symbol) {
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
  return flags;
}
} // namespace

// One record per symbol of every module in the file: u8 flags
// (symbolFlags), then the name.
extern "C" int ltoe_bitcode_symbols(const char *data, size_t len, LtoeBuffer **out, char **err) {
  Expected<irsymtab::FileContents> table = symbolTable(data, len);
  if (!table)
    return ltoe::fail(table.takeError(), err);
  const irsymtab::Reader &reader = table->TheReader;
  auto buffer_out = std::make_unique<LtoeBuffer>();
  for (unsigned i = 0; i != reader.getNumModules(); ++i) {
    for (const irsymtab::Reader::SymbolRef &symbol : reader.module_symbols(i)) {
      ltoe::put<uint8_t>(buffer_out->data, symbolFlags(symbol));
      ltoe::putString(buffer_out->data, symbol.getName());
    }
  }
  *out = buffer_out.release();
  return 0;
}

// For explain, per symbol of every module: u8 flags (symbolFlags), u8
// visibility (LTOE_VISIBILITY_*), string comdat ("" for none), string name.
extern "C" int ltoe_bitcode_symbol_details(const char *data, size_t len, LtoeBuffer **out,
                                           char **err) {
  Expected<irsymtab::FileContents> table = symbolTable(data, len);
  if (!table)
    return ltoe::fail(table.takeError(), err);
  const irsymtab::Reader &reader = table->TheReader;
  std::vector<std::string> comdats;
  for (const auto &comdat : reader.getComdatTable())
    comdats.push_back(comdat.first.str());
  auto result = std::make_unique<LtoeBuffer>();
  for (unsigned i = 0; i != reader.getNumModules(); ++i) {
    for (const irsymtab::Reader::SymbolRef &symbol : reader.module_symbols(i)) {
      ltoe::put<uint8_t>(result->data, symbolFlags(symbol));
      ltoe::put<uint8_t>(result->data, ltoe::visibilityCode(symbol.getVisibility()));
      int comdat = symbol.getComdatIndex();
      ltoe::putString(result->data, comdat >= 0 && static_cast<size_t>(comdat) < comdats.size()
                                        ? StringRef(comdats[comdat])
                                        : StringRef());
      ltoe::putString(result->data, symbol.getName());
    }
  }
  *out = result.release();
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
