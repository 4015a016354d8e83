// .llmrt container reader: any bytes are read as a model.llmrt; malformed ones must be refused
// with an llmrt::Error. Accepted files are verified (checksums) and small tensors decoded.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_input.h"
#include "llmrt/error.hpp"
#include "store/container.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  llmrt::fuzz::MemFile file(data, size);
  try {
    const llmrt::container::File f = llmrt::container::File::read(file.path());
    (void)llmrt::container::verify(f);
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
