// Row converters between f32 and the 16-bit float formats, used wherever f16/bf16 weights or
// activations are widened. The public functions dispatch on cpu_isa() at each call; the
// per-ISA variants are exposed for tests and benchmarks, and each one must agree bit for bit
// with the scalar reference in util/half.h.
#pragma once

#include <cstddef>
#include <cstdint>

#include "util/cpu_features.h"

namespace llmrt::kernels {

void f16_to_f32(const uint16_t* src, float* dst, size_t n);
void f32_to_f16(const float* src, uint16_t* dst, size_t n);
void bf16_to_f32(const uint16_t* src, float* dst, size_t n);

// A variant for one ISA level; nullptr where the build has none. Calling a variant the CPU
// cannot run is the caller's fault (check cpu_features().best first).
struct ConvertKernels {
  void (*f16_to_f32)(const uint16_t*, float*, size_t);
  void (*f32_to_f16)(const float*, uint16_t*, size_t);
  void (*bf16_to_f32)(const uint16_t*, float*, size_t);
};
const ConvertKernels& convert_kernels(CpuIsa isa);

namespace scalar { extern const ConvertKernels kConvert; }
namespace avx2 { extern const ConvertKernels kConvert; }
namespace avx512 { extern const ConvertKernels kConvert; }

}  // namespace llmrt::kernels
