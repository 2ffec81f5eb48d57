// Archives: the copy of a mixed archive that keeps only its native members,
// built in memory (the Rust side writes it, only when it changed).
#include "common.h"
#include "llvm/Object/ArchiveWriter.h"
#include "llvm/Support/MemoryBuffer.h"
#include <vector>

using namespace llvm;

extern "C" int ltoe_archive_bytes(const char *const *names, const uint8_t *const *datas,
                                  const size_t *lens, size_t count, LtoeBuffer **out,
                                  char **err) {
  std::vector<NewArchiveMember> members;
  members.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    MemoryBufferRef ref(StringRef(reinterpret_cast<const char *>(datas[i]), lens[i]), names[i]);
    members.emplace_back(ref);
  }
  // Warnings (such as a member whose symbols cannot be read) are not errors:
  // the member is still copied, as llvm-ar does.
  auto buffer = writeArchiveToBuffer(members, SymtabWritingMode::NormalSymtab,
                                     object::Archive::K_GNU, /*Deterministic=*/true,
                                     /*Thin=*/false, [](Error warning) {
                                       consumeError(std::move(warning));
                                     });
  if (!buffer)
    return ltoe::fail(buffer.takeError(), err);
  auto bytes = std::make_unique<LtoeBuffer>();
  bytes->data.assign((*buffer)->getBufferStart(), (*buffer)->getBufferSize());
  *out = bytes.release();
  return 0;
}
