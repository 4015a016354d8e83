// Scalar converters and the run-time dispatch for all variants.
#include "convert.h"

#include "util/half.h"

namespace llmrt::kernels {
namespace scalar {
namespace {
void f16_to_f32_row(const uint16_t* src, float* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = llmrt::f16_to_f32(src[i]);
}
void f32_to_f16_row(const float* src, uint16_t* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = llmrt::f32_to_f16(src[i]);
}
void bf16_to_f32_row(const uint16_t* src, float* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = llmrt::bf16_to_f32(src[i]);
}
}  // namespace
const ConvertKernels kConvert = {f16_to_f32_row, f32_to_f16_row, bf16_to_f32_row};
}  // namespace scalar

const ConvertKernels& convert_kernels(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kAvx512: return avx512::kConvert;
    case CpuIsa::kAvx2: return avx2::kConvert;
    case CpuIsa::kScalar: break;
  }
  return scalar::kConvert;
}

void f16_to_f32(const uint16_t* src, float* dst, size_t n) { convert_kernels(cpu_isa()).f16_to_f32(src, dst, n); }
void f32_to_f16(const float* src, uint16_t* dst, size_t n) { convert_kernels(cpu_isa()).f32_to_f16(src, dst, n); }
void bf16_to_f32(const uint16_t* src, float* dst, size_t n) { convert_kernels(cpu_isa()).bf16_to_f32(src, dst, n); }

}  // namespace llmrt::kernels
