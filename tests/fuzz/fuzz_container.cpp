// .llmrt container reader: any bytes are read as a model.llmrt; malformed ones must be refused
// with an llmrt::Error. Accepted files are verified (checksums) and small tensors decoded.
#include <cstddef>
#include <cstdint>

#include "fuzz_input.h"
#include "llmrt/error.hpp"
#include "store/container.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  llmrt::fuzz::MemFile file(data, size);
  try {
    const llmrt::container::File f = llmrt::container::File::read(file.path());
    (void)llmrt::container::verify(f);
    llmrt::fuzz::decode_first_rows(f.tensors.tensors());
  } catch (const llmrt::Error&) {
  }
  return 0;
}
