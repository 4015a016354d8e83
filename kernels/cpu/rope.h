// Rotary position embedding with precomputed cos/sin, applied to the [heads, head_dim] rows of
// one token. For each pair (a, b) = (x[ia], x[ib]) of the first rotary_dim dims, i < rotary_dim/2:
//
//   a' = a cos_i - b sin_i,   b' = b cos_i + a sin_i
//
// with (ia, ib) = (i, i + rotary_dim/2) in the rotate-half (GPT-NeoX / Llama HF) form and
// (2i, 2i + 1) in the adjacent-pair (GPT-J / Llama Meta) form; dims past rotary_dim are copied
// unchanged. cos/sin hold rotary_dim/2 values for this token's position (any scaling — YaRN's
// attention factor, per-dim frequency factors — already folded in by the caller).
//
// f32 throughout: each output is within 2 eps (|a cos| + |b sin|) of the exact value for the
// given cos/sin (eps = 2^-23; the test checks it). src may equal dst (in place).
// Variants: scalar and AVX2+FMA (8 pairs per step); kAvx512 dispatches to AVX2.
#pragma once

#include <cstdint>

#include "util/cpu_features.h"

namespace llmrt::kernels {

enum class RopeStyle { kRotateHalf, kAdjacentPairs };

struct RopeArgs {
  const float* src;    // [heads, head_dim], contiguous
  float* dst;          // [heads, head_dim], contiguous; may equal src
  int64_t heads;
  int64_t head_dim;
  int64_t rotary_dim;  // even, <= head_dim
  const float* cos;    // [rotary_dim / 2]
  const float* sin;    // [rotary_dim / 2]
  RopeStyle style;
};

void rope(const RopeArgs& a);  // dispatches on cpu_isa()

using RopeFn = void (*)(const RopeArgs&);
RopeFn rope_kernel(CpuIsa isa);

namespace scalar { void rope(const RopeArgs& a); }
namespace avx2 { void rope(const RopeArgs& a); }

}  // namespace llmrt::kernels
