// GGUF reader: any bytes are read as a GGUF file; a malformed one must be refused with an
// llmrt::Error (any other exception or a crash is a finding). Small tensors are decoded too, so
// the block decoders see hostile scales and values.
#include <cstddef>
#include <cstdint>

#include "fuzz_input.h"
#include "llmrt/error.hpp"
#include "store/gguf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  llmrt::fuzz::MemFile file(data, size);
  try {
    const llmrt::gguf::File f = llmrt::gguf::File::read(file.path());
    for (const auto& [key, value] : f.metadata) (void)key, (void)value.type();
    const llmrt::TensorSet tensors = f.tensors();
    llmrt::fuzz::decode_first_rows(tensors.tensors());
  } catch (const llmrt::Error&) {
  }
  return 0;
}
