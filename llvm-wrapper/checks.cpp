// Checks of an input module before any pass sees it, and the process-wide
// fatal-error handler. Each call is one step; Rust decides when they run.
#include "common.h"
#include "llvm/IR/DebugInfo.h"
#include "llvm/IR/DiagnosticInfo.h"
#include "llvm/IR/LLVMContext.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Verifier.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/ErrorHandling.h"
#include "llvm/Support/BLAKE3.h"
#include "llvm/Support/SHA1.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Target/TargetMachine.h"
#include "llvm-c/TargetMachine.h"

#include <cstring>
#include <string>
#include <unistd.h>
#include <vector>

using namespace llvm;

// Runs the IR verifier on an input. Broken IR is an error with the
// verifier's text. Broken debug info alone is what LLVM's LTO tolerates: a
// warning (through the context's diagnostic handler) and the debug info
// stripped.
extern "C" int ltoe_verify_input(LLVMModuleRef moduleRef, char **err) {
  Module &module = *unwrap(moduleRef);
  std::string text;
  raw_string_ostream os(text);
  bool brokenDebugInfo = false;
  if (verifyModule(module, &os, &brokenDebugInfo)) {
    os.flush();
    return ltoe::fail(text.empty() ? std::string("the IR verifier failed") : text, err);
  }
  if (brokenDebugInfo) {
    module.getContext().diagnose(DiagnosticInfoIgnoringInvalidDebugMetadata(module));
    StripDebugInfo(module);
  }
  return 0;
}

extern "C" int ltoe_verify_unchanged(LLVMModuleRef moduleRef, char **err) {
  std::string text;
  raw_string_ostream os(text);
  bool brokenDebugInfo = false;
  if (verifyModule(*unwrap(moduleRef), &os, &brokenDebugInfo)) {
    os.flush();
    return ltoe::fail(text.empty() ? std::string("the IR verifier failed") : text, err);
  }
  return 0;
}

static void warn(LLVMContext &context, const std::string &message) {
  // DiagnosticInfoGeneric keeps a reference to the text: it lives until
  // the handler has run.
  context.diagnose(DiagnosticInfoGeneric(message, DS_Warning));
}

// Function attributes naming a processor or feature the target does not
// know make LLVM print "... is not a recognized processor/feature" straight
// to stderr when the function's subtarget is made. Here they become
// warnings through the context's diagnostic handler, and the unknown names
// are dropped, which is what LLVM does with them ("ignoring ...").
extern "C" void ltoe_drop_unknown_subtarget_names(LLVMModuleRef moduleRef,
                                                  LLVMTargetMachineRef machineRef) {
  Module &module = *unwrap(moduleRef);
  const TargetMachine *machine = reinterpret_cast<const TargetMachine *>(machineRef);
  const MCSubtargetInfo *info = machine->getMCSubtargetInfo();
  if (!info)
    return;
  LLVMContext &context = module.getContext();
  auto knownFeature = [&](StringRef name) {
    for (const SubtargetFeatureKV &feature : info->getAllProcessorFeatures())
      if (name == feature.Key)
        return true;
    return false;
  };
  for (Function &function : module) {
    for (const char *kind : {"target-cpu", "tune-cpu"}) {
      Attribute attribute = function.getFnAttribute(kind);
      if (!attribute.isValid())
        continue;
      StringRef cpu = attribute.getValueAsString();
      if (cpu.empty() || info->isCPUStringValid(cpu))
        continue;
      warn(context, "function '" + function.getName().str() + "': '" + cpu.str() +
                        "' is not a recognized processor for this target (ignoring processor)");
      function.removeFnAttr(kind);
    }
    Attribute features = function.getFnAttribute("target-features");
    if (!features.isValid())
      continue;
    SmallVector<StringRef, 32> names;
    features.getValueAsString().split(names, ',', -1, false);
    std::string kept;
    bool dropped = false;
    for (StringRef name : names) {
      StringRef bare = name.ltrim("+-");
      if ((name.starts_with("+") || name.starts_with("-")) && knownFeature(bare)) {
        if (!kept.empty())
          kept += ',';
        kept += name.str();
        continue;
      }
      dropped = true;
      warn(context, "function '" + function.getName().str() + "': '" + name.str() +
                        "' is not a recognized feature for this target (ignoring feature)");
    }
    if (dropped)
      function.addFnAttr("target-features", kept);
  }
}

// LLVM exits the process right after a fatal error's handler returns. The
// handler writes one line in the engine's format first, so that whoever
// reads stderr (a user, or the parent of a worker process) gets the reason.
static void fatalErrorLine(void *, const char *reason, bool) {
  std::string line = std::string("lto-engine: LLVM fatal error: ") + reason + "\n";
  for (char &c : line)
    if (c == '\n' && &c != &line.back())
      c = ' ';
  (void)!::write(2, line.data(), line.size());
}

extern "C" void ltoe_install_fatal_error_handler(void) {
  install_fatal_error_handler(fatalErrorLine, nullptr);
}

// SHA-1 of bytes: the identity of an input a worker process has read
// without crashing.
extern "C" void ltoe_sha1(const char *data, size_t len, uint8_t out[20]) {
  auto digest = SHA1::hash(ArrayRef<uint8_t>(reinterpret_cast<const uint8_t *>(data), len));
  static_assert(sizeof(digest) == 20, "SHA-1 is 20 bytes");
  std::memcpy(out, digest.data(), 20);
}

// BLAKE3 (256 bits) of bytes: the identity of an input whose symbol table
// the linker mode keeps; fast enough to hash every input of a relink.
extern "C" void ltoe_blake3(const char *data, size_t len, uint8_t out[32]) {
  auto digest = BLAKE3::hash<32>(ArrayRef<uint8_t>(reinterpret_cast<const uint8_t *>(data), len));
  std::memcpy(out, digest.data(), 32);
}

// LLVM's own command-line options (lld's -mllvm), parsed as
// cl::ParseCommandLineOptions does for a tool, with an error stream: an
// option it does not know is an error returned with its message instead of
// LLVM printing it and exiting the process.
extern "C" int ltoe_parse_llvm_options(const char *const *options, size_t count, char **err) {
  std::vector<const char *> argv;
  argv.push_back("lto-engine");
  for (size_t i = 0; i < count; ++i)
    argv.push_back(options[i]);
  std::string text;
  raw_string_ostream os(text);
  if (!cl::ParseCommandLineOptions(static_cast<int>(argv.size()), argv.data(), "", &os)) {
    os.flush();
    return ltoe::fail(text.empty() ? std::string("LLVM refused the options") : text, err);
  }
  return 0;
}
