// Scalar flash attention (the maths of attention.h in plain loops), the scratch sizing and the
// run-time dispatch.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "attention.h"
#include "attention_exp.h"
#include "attention_rows.h"

namespace llmrt::kernels {

namespace {
int64_t round_up8(int64_t n) { return (n + 7) / 8 * 8; }
}  // namespace

// Layout: running max [n_rows], running sum [n_rows], one row of block scores (rounded up to whole
// 8-float vectors so the AVX2 exp may run over the padding), then (AVX2) 64 bytes of alignment
// slack and a K and a V block packed at a row stride of head_dim rounded up to 16 floats.
size_t attention_scratch_floats(int64_t n_rows, int64_t head_dim, int64_t block) {
  block = std::max<int64_t>(block, 1);
  const int64_t packed_stride = (std::max<int64_t>(head_dim, 1) + 15) / 16 * 16;
  return static_cast<size_t>(2 * std::max<int64_t>(n_rows, 0) + round_up8(block) + 16 + 2 * block * packed_stride);
}

namespace scalar {
namespace {

float exp_one(float x) {
  using namespace exp_detail;
  if (std::isnan(x)) return x;
  x = std::clamp(x, kExpLo, kExpHi);
  const float n = std::nearbyint(x * kLog2e);
  float r = x - n * kLn2Hi;
  r = r - n * kLn2Lo;
  float p = kP0;
  p = p * r + kP1;
  p = p * r + kP2;
  p = p * r + kP3;
  p = p * r + kP4;
  p = p * r + kP5;
  const float y = p * (r * r) + r + 1.0f;
  const uint32_t bits = static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23;
  float two_n;
  std::memcpy(&two_n, &bits, sizeof two_n);
  return y * two_n;
}

}  // namespace

void exp_f32(const float* src, float* dst, size_t n) {
  for (size_t i = 0; i < n; ++i) dst[i] = exp_one(src[i]);
}

void attention(const AttentionArgs& a) {
  const int64_t hd = a.head_dim, block = std::max<int64_t>(a.block, 1), n_rows = a.n_tokens * a.n_heads;
  float* m = a.scratch;
  float* l = m + n_rows;
  float* p = l + n_rows;
  const AttentionRows rows{a};
  for (int64_t r0 = 0; r0 < n_rows; r0 += kRowTile) {
    const int64_t r1 = std::min(n_rows, r0 + kRowTile);
    int64_t key_lo = 0, key_hi = -1;
    rows.start_tile(r0, r1, m, l, &key_lo, &key_hi);
    for (int64_t j0 = key_lo; j0 <= key_hi; j0 += block) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t t = r / a.n_heads;
        const int64_t lo = std::max(j0, rows.first(t)), hi = std::min(j0 + block - 1, a.last[t]);
        if (lo > hi) continue;
        const int64_t n = hi - lo + 1;
        const float* q = rows.q(r);
        float block_max = -std::numeric_limits<float>::infinity();
        for (int64_t j = 0; j < n; ++j) {
          const float* k = a.k + (lo + j) * a.kv_stride;
          float dot = 0;
          for (int64_t d = 0; d < hd; ++d) dot += q[d] * k[d];
          p[j] = dot * a.scale;
          block_max = std::max(block_max, p[j]);
        }
        const float m_new = std::max(m[r], block_max);
        const float alpha = exp_one(m[r] - m_new);  // exp(-inf) -> FLT_MIN, times l = o = 0
        float sum = 0;
        for (int64_t j = 0; j < n; ++j) {
          p[j] = exp_one(p[j] - m_new);
          sum += p[j];
        }
        m[r] = m_new;
        l[r] = alpha * l[r] + sum;
        float* o = rows.out(r);
        for (int64_t d = 0; d < hd; ++d) o[d] *= alpha;
        for (int64_t j = 0; j < n; ++j) {
          const float* v = a.v + (lo + j) * a.kv_stride;
          for (int64_t d = 0; d < hd; ++d) o[d] += p[j] * v[d];
        }
      }
    }
    for (int64_t r = r0; r < r1; ++r) {
      if (l[r] == 0) continue;
      const float inv = 1.0f / l[r];
      float* o = rows.out(r);
      for (int64_t d = 0; d < hd; ++d) o[d] *= inv;
    }
  }
}

}  // namespace scalar

AttentionFn attention_kernel(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kAvx512:  // no AVX-512 variant yet (see attention.h)
    case CpuIsa::kAvx2: return avx2::attention;
    case CpuIsa::kScalar: break;
  }
  return scalar::attention;
}

ExpFn exp_kernel(CpuIsa isa) {
  switch (isa) {
    case CpuIsa::kAvx512:
    case CpuIsa::kAvx2: return avx2::exp_f32;
    case CpuIsa::kScalar: break;
  }
  return scalar::exp_f32;
}

void attention(const AttentionArgs& a) { attention_kernel(cpu_isa())(a); }

}  // namespace llmrt::kernels
