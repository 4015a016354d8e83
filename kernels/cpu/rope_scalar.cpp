// Scalar RoPE (the maths of rope.h in plain loops) and the run-time dispatch.
#include <algorithm>

#include "rope.h"

namespace llmrt::kernels {
namespace scalar {
void rope(const RopeArgs& a) {
  const int64_t half = a.rotary_dim / 2;
  const bool adjacent = a.style == RopeStyle::kAdjacentPairs;
  for (int64_t h = 0; h < a.heads; ++h) {
    const float* src = a.src + h * a.head_dim;
    float* dst = a.dst + h * a.head_dim;
    for (int64_t i = 0; i < half; ++i) {
      const int64_t ia = adjacent ? 2 * i : i, ib = adjacent ? 2 * i + 1 : i + half;
      const float x = src[ia], y = src[ib], c = a.cos[i], s = a.sin[i];
      dst[ia] = x * c - y * s;
      dst[ib] = y * c + x * s;
    }
    if (dst != src) std::copy(src + a.rotary_dim, src + a.head_dim, dst + a.rotary_dim);
  }
}
}  // namespace scalar

RopeFn rope_kernel(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kAvx512:  // no AVX-512 variant: the AVX2 one (see rope.h)
    case CpuIsa::kAvx2: return avx2::rope;
    case CpuIsa::kScalar: break;
  }
  return scalar::rope;
}

void rope(const RopeArgs& a) { rope_kernel(cpu_isa())(a); }

}  // namespace llmrt::kernels
