// AVX2 + F16C converters: 8 lanes per step, the scalar reference for the tail.
#include <immintrin.h>

#include "convert.h"
#include "util/half.h"

namespace llmrt::kernels::avx2 {
namespace {
void f16_to_f32_row(const uint16_t* src, float* dst, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
    _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
  }
  for (; i < n; ++i) dst[i] = llmrt::f16_to_f32(src[i]);
}
void f32_to_f16_row(const float* src, uint16_t* dst, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + i), h);
  }
  for (; i < n; ++i) dst[i] = llmrt::f32_to_f16(src[i]);
}
void bf16_to_f32_row(const uint16_t* src, float* dst, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256i w = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i)));
    _mm256_storeu_ps(dst + i, _mm256_castsi256_ps(_mm256_slli_epi32(w, 16)));
  }
  for (; i < n; ++i) dst[i] = llmrt::bf16_to_f32(src[i]);
}
}  // namespace
const ConvertKernels kConvert = {f16_to_f32_row, f32_to_f16_row, bf16_to_f32_row};
}  // namespace llmrt::kernels::avx2
