// safetensors reader: any bytes are read as a .safetensors file; malformed ones must be
// refused with an llmrt::Error. The first row of each small tensor is decoded.
#include <cstddef>
#include <cstdint>

#include "fuzz_input.h"
#include "llmrt/error.hpp"
#include "store/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  llmrt::fuzz::MemFile file(data, size);
  try {
    const llmrt::safetensors::File f = llmrt::safetensors::read(file.path());
    llmrt::fuzz::decode_first_rows(f.tensors.tensors());
  } catch (const llmrt::Error&) {
  }
  return 0;
}
