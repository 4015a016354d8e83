// f32 matmuls through oneDNN (the only file of the CPU plugin that includes dnnl.hpp).
#pragma once

#include <cstdint>

namespace llmrt::cpu {

// y[m, n] = x[m, k] * w[n, k]^T, all row-major f32. One primitive per (m, k, n), cached; no
// run-time M dimension (oneDNN 2.6 falls back to a slow gemm for those).
void onednn_matmul_f32(const float* x, const float* w, float* y, int64_t m, int64_t k, int64_t n);

// "oneDNN 2.6.3 (cpu: avx512_core_bf16)" or similar, for the device properties.
const char* onednn_version_text();

}  // namespace llmrt::cpu
