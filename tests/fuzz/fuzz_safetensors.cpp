// safetensors reader: any bytes are read as a .safetensors file; malformed ones must be
// refused with an llmrt::Error. The first row of each small tensor is decoded.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_input.h"
#include "llmrt/error.hpp"
#include "store/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  llmrt::fuzz::MemFile file(data, size);
  try {
    const llmrt::safetensors::File f = llmrt::safetensors::read(file.path());
    std::vector<float> row;
    for (const llmrt::Tensor& t : f.tensors.tensors()) {
      if (t.numel() == 0 || t.cols() > (1 << 16)) continue;
      row.resize(static_cast<size_t>(t.cols()));
      t.dequantize_rows(0, 1, row.data());
    }
  } catch (const llmrt::Error&) {
  }
  return 0;
}
