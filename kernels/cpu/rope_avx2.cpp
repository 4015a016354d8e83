// AVX2 + FMA RoPE: 8 pairs per step, the step's cos/sin loaded (and for adjacent pairs
// rearranged) once and applied to every head. Rotate-half: the two halves are two plain vectors.
// Adjacent pairs: cos/sin are duplicated into pair order ([c0 c0 c1 c1 ...]) and
// fmaddsub(x, c, swap_pairs(x) * s) gives a c - b s in even lanes and b c + a s in odd ones.
#include <immintrin.h>

#include <algorithm>

#include "rope.h"

namespace llmrt::kernels::avx2 {
namespace {

void rotate_half(const RopeArgs& a, int64_t half) {
  int64_t i = 0;
  for (; i + 8 <= half; i += 8) {
    const __m256 c = _mm256_loadu_ps(a.cos + i), s = _mm256_loadu_ps(a.sin + i);
    for (int64_t h = 0; h < a.heads; ++h) {
      const float* src = a.src + h * a.head_dim;
      float* dst = a.dst + h * a.head_dim;
      const __m256 x = _mm256_loadu_ps(src + i), y = _mm256_loadu_ps(src + half + i);
      _mm256_storeu_ps(dst + i, _mm256_fmsub_ps(x, c, _mm256_mul_ps(y, s)));
      _mm256_storeu_ps(dst + half + i, _mm256_fmadd_ps(y, c, _mm256_mul_ps(x, s)));
    }
  }
  for (; i < half; ++i) {
    for (int64_t h = 0; h < a.heads; ++h) {
      const float* src = a.src + h * a.head_dim;
      float* dst = a.dst + h * a.head_dim;
      const float x = src[i], y = src[half + i];
      dst[i] = x * a.cos[i] - y * a.sin[i];
      dst[half + i] = y * a.cos[i] + x * a.sin[i];
    }
  }
}

void adjacent_pairs(const RopeArgs& a, int64_t half) {
  const __m256i lo_idx = _mm256_setr_epi32(0, 0, 1, 1, 2, 2, 3, 3), hi_idx = _mm256_setr_epi32(4, 4, 5, 5, 6, 6, 7, 7);
  int64_t i = 0;
  for (; i + 8 <= half; i += 8) {
    const __m256 c = _mm256_loadu_ps(a.cos + i), s = _mm256_loadu_ps(a.sin + i);
    const __m256 c0 = _mm256_permutevar8x32_ps(c, lo_idx), c1 = _mm256_permutevar8x32_ps(c, hi_idx);
    const __m256 s0 = _mm256_permutevar8x32_ps(s, lo_idx), s1 = _mm256_permutevar8x32_ps(s, hi_idx);
    for (int64_t h = 0; h < a.heads; ++h) {
      const float* src = a.src + h * a.head_dim + 2 * i;
      float* dst = a.dst + h * a.head_dim + 2 * i;
      const __m256 x0 = _mm256_loadu_ps(src), x1 = _mm256_loadu_ps(src + 8);
      const __m256 swapped0 = _mm256_permute_ps(x0, 0xB1), swapped1 = _mm256_permute_ps(x1, 0xB1);
      _mm256_storeu_ps(dst, _mm256_fmaddsub_ps(x0, c0, _mm256_mul_ps(swapped0, s0)));
      _mm256_storeu_ps(dst + 8, _mm256_fmaddsub_ps(x1, c1, _mm256_mul_ps(swapped1, s1)));
    }
  }
  for (; i < half; ++i) {
    for (int64_t h = 0; h < a.heads; ++h) {
      const float* src = a.src + h * a.head_dim;
      float* dst = a.dst + h * a.head_dim;
      const float x = src[2 * i], y = src[2 * i + 1];
      dst[2 * i] = x * a.cos[i] - y * a.sin[i];
      dst[2 * i + 1] = y * a.cos[i] + x * a.sin[i];
    }
  }
}

}  // namespace

void rope(const RopeArgs& a) {
  const int64_t half = a.rotary_dim / 2;
  if (a.style == RopeStyle::kAdjacentPairs) {
    adjacent_pairs(a, half);
  } else {
    rotate_half(a, half);
  }
  if (a.dst == a.src) return;
  for (int64_t h = 0; h < a.heads; ++h) {
    std::copy(a.src + h * a.head_dim + a.rotary_dim, a.src + (h + 1) * a.head_dim, a.dst + h * a.head_dim + a.rotary_dim);
  }
}

}  // namespace llmrt::kernels::avx2
