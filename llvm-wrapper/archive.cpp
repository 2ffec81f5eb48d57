// Archives: the copy of a mixed archive that keeps only its native members.
#include "common.h"
#include "llvm/Object/ArchiveWriter.h"
#include "llvm/Support/MemoryBuffer.h"
#include <vector>

using namespace llvm;

extern "C" int ltoe_write_archive(const char *path, const char *const *names,
                                  const uint8_t *const *datas, const size_t *lens,
                                  size_t count, char **err) {
  std::vector<NewArchiveMember> members;
  members.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    MemoryBufferRef ref(StringRef(reinterpret_cast<const char *>(datas[i]), lens[i]), names[i]);
    members.emplace_back(ref);
  }
  std::string warnings;
  Error result = writeArchive(path, members, SymtabWritingMode::NormalSymtab,
                              object::Archive::K_GNU, /*Deterministic=*/true,
                              /*Thin=*/false, nullptr, std::nullopt, [&](Error warning) {
                                warnings += toString(std::move(warning));
                              });
  if (result)
    return ltoe::fail(std::move(result), err);
  return 0;
}
