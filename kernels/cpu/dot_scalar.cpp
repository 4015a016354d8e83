// Scalar inner product (four partial sums) and the run-time dispatch.
#include "dot.h"

namespace llmrt::kernels {
namespace scalar {
float dot_f32(const float* a, const float* b, size_t n) {
  float s[4] = {0, 0, 0, 0};
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    for (int k = 0; k < 4; ++k) s[k] += a[i + k] * b[i + k];
  }
  for (; i < n; ++i) s[0] += a[i] * b[i];
  return (s[0] + s[1]) + (s[2] + s[3]);
}
}  // namespace scalar

DotFn dot_kernel(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kAvx512: return avx512::dot_f32;
    case CpuIsa::kAvx2: return avx2::dot_f32;
    case CpuIsa::kScalar: break;
  }
  return scalar::dot_f32;
}

float dot_f32(const float* a, const float* b, size_t n) { return dot_kernel(cpu_isa())(a, b, n); }

}  // namespace llmrt::kernels
