// The page-token table's host memory (see page_token.h): an anonymous
// MAP_NORESERVE mapping, so that only the host pages holding written tokens
// become resident.
#include "os/page_token.h"

#include <sys/mman.h>

#include <cstdio>
#include <cstdlib>

namespace numasim::os {

PageTokens::~PageTokens() {
  if (tok_) munmap(tok_, bytes_);
}

void PageTokens::enable(std::uint64_t max_pfn) {
  if (enabled() || max_pfn == 0) return;
  const std::size_t bytes = static_cast<std::size_t>(max_pfn) * sizeof(std::uint64_t);
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    std::fprintf(stderr, "numasim: cannot reserve %zu bytes of host address space for verify mode's page tokens\n",
                 bytes);
    std::exit(1);
  }
  tok_ = static_cast<std::uint64_t*>(p);
  bytes_ = bytes;
}

}  // namespace numasim::os
