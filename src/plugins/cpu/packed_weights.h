// The CPU plugin's packed layouts of weight matrices (kernels/cpu/qgemv.h), built from the
// stored tensor once and kept in its repack cache.
//
//   stored type                              packed kind  parameters
//   GGUF Q4_0, int4_sym (group % 32 == 0)    kQ4          f16 scales when stored f16
//   GGUF Q8_0, int8_sym (group % 32 == 0)    kQ8          f16 scales when stored f16
//   GGUF Q4_K                                kQ4K         exact (6-bit sc/m, f16 D/Dmin as f32)
//   GGUF Q6_K                                kQ6K         exact
// Every packing is lossless: the packed matrix means exactly the stored weights.
#pragma once

#include "kernels/cpu/qgemv.h"
#include "store/tensor.h"

namespace llmrt::cpu {

// True when `w` (a 2-D [out, in] weight) has a packed kind.
bool packable(const Tensor& w);

// The packed form of `w`, built on first use (in parallel over panels) and cached on the
// tensor; nullptr when !packable(w).
const kernels::PackedMatrix* packed_weights(const Tensor& w);

}  // namespace llmrt::cpu
