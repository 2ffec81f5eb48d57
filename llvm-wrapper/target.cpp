// Target machine settings the C API does not reach.
#include "common.h"
#include "llvm/Target/TargetMachine.h"

using namespace llvm;

static TargetMachine *unwrapTM(LLVMTargetMachineRef tm) {
  return reinterpret_cast<TargetMachine *>(tm);
}

extern "C" void ltoe_target_machine_set_sections(LLVMTargetMachineRef tm, int functionSections,
                                                 int dataSections) {
  unwrapTM(tm)->Options.FunctionSections = functionSections != 0;
  unwrapTM(tm)->Options.DataSections = dataSections != 0;
}
