// Inner products of f32 rows: sum_i a[i] * b[i]. The workhorse of the reference
// FullyConnected path (a decoded weight row against an activation row). Dispatches on
// cpu_isa(); the per-ISA variants are exposed for tests and benchmarks.
//
// Accumulation is f32 with 16 (AVX-512) or 8 (AVX2) independent partial sums plus a final
// reduction, so the rounding error grows like sqrt(n / lanes) ulps rather than n; tests bound it
// against a float64 oracle.
#pragma once

#include <cstddef>

#include "util/cpu_features.h"

namespace llmrt::kernels {

float dot_f32(const float* a, const float* b, size_t n);

using DotFn = float (*)(const float*, const float*, size_t);
DotFn dot_kernel(CpuIsa isa);

namespace scalar { float dot_f32(const float* a, const float* b, size_t n); }
namespace avx2 { float dot_f32(const float* a, const float* b, size_t n); }
namespace avx512 { float dot_f32(const float* a, const float* b, size_t n); }

}  // namespace llmrt::kernels
