// AVX2 variants of kernels/cpu/qgemv.h: one 256-bit register holds 4 codes of each of a panel's
// 8 rows, vpmaddubsw multiplies them with 4 broadcast activation bytes, and vpmaddwd folds the
// pairs into one int32 per row. Integer sums and f32 fused multiply-adds match the scalar
// variant exactly.
#include <immintrin.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include "avx2_reduce.h"
#include "qgemv.h"

namespace llmrt::kernels::avx2 {
namespace {

inline __m256i bcast4(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return _mm256_set1_epi32(v);
}

inline __m256i load(const uint8_t* p) { return _mm256_load_si256(reinterpret_cast<const __m256i*>(p)); }

// One 32-column group of nibble codes against N tokens: out[i] = sum_j c_j q_i[j] per row (int32
// lanes). Each 32-byte chunk is loaded and unpacked once for all N tokens (N = 4 in a prefill:
// that reuse is what keeps it from being unpack-bound). A vpmaddubsw lane is at most
// 2 * 15 * 127, eight of them 30480: the int16 sums cannot overflow.
template <int N>
inline void dot_u4(const uint8_t* c, const int8_t* const* q, __m256i* out) {
  const __m256i m4 = _mm256_set1_epi8(0x0F);
  __m256i acc[N];
  for (int i = 0; i < N; ++i) acc[i] = _mm256_setzero_si256();
  for (int k = 0; k < 4; ++k) {
    const __m256i w = load(c + 32 * k);
    const __m256i lo = _mm256_and_si256(w, m4);
    const __m256i hi = _mm256_and_si256(_mm256_srli_epi16(w, 4), m4);
    for (int i = 0; i < N; ++i) {
      acc[i] = _mm256_add_epi16(acc[i], _mm256_maddubs_epi16(lo, bcast4(q[i] + 4 * k)));
      acc[i] = _mm256_add_epi16(acc[i], _mm256_maddubs_epi16(hi, bcast4(q[i] + 16 + 4 * k)));
    }
  }
  for (int i = 0; i < N; ++i) out[i] = _mm256_madd_epi16(acc[i], _mm256_set1_epi16(1));
}

// One group of int8 codes against N tokens: |c| x (q with c's sign); a lane is at most
// 2 * 128 * 127 < 2^15.
template <int N>
inline void dot_s8(const uint8_t* c, const int8_t* const* q, __m256i* out) {
  const __m256i ones = _mm256_set1_epi16(1);
  for (int i = 0; i < N; ++i) out[i] = _mm256_setzero_si256();
  for (int k = 0; k < 8; ++k) {
    const __m256i w = load(c + 32 * k);
    const __m256i aw = _mm256_abs_epi8(w);
    for (int i = 0; i < N; ++i) {
      const __m256i p = _mm256_maddubs_epi16(aw, _mm256_sign_epi8(bcast4(q[i] + 4 * k), w));
      out[i] = _mm256_add_epi32(out[i], _mm256_madd_epi16(p, ones));
    }
  }
}

// Bits 2k..2k+1 of each byte moved to bits 4..5 (other bits garbage; the caller masks).
inline __m256i high_bits(__m256i h, int k) {
  switch (k) {
    case 0: return _mm256_slli_epi16(h, 4);
    case 1: return _mm256_slli_epi16(h, 2);
    case 2: return h;
    default: return _mm256_srli_epi16(h, 2);
  }
}

// One group, 6-bit codes: the sums over columns 0..15 and 16..31 separately (Q6_K scales are
// per 16). A vpmaddubsw lane is at most 2 * 63 * 127 = 16002, so two may be added in int16.
inline void dot_u6(const uint8_t* c, const int8_t* q, __m256i* raw0, __m256i* raw1) {
  const __m256i m4 = _mm256_set1_epi8(0x0F), m30 = _mm256_set1_epi8(0x30), ones = _mm256_set1_epi16(1);
  const __m256i h0 = load(c + 128), h1 = load(c + 160);
  __m256i p_lo[4], p_hi[4];
  for (int k = 0; k < 4; ++k) {
    const __m256i w = load(c + 32 * k);
    const __m256i lo = _mm256_or_si256(_mm256_and_si256(w, m4), _mm256_and_si256(high_bits(h0, k), m30));
    const __m256i hi =
        _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(w, 4), m4), _mm256_and_si256(high_bits(h1, k), m30));
    p_lo[k] = _mm256_maddubs_epi16(lo, bcast4(q + 4 * k));
    p_hi[k] = _mm256_maddubs_epi16(hi, bcast4(q + 16 + 4 * k));
  }
  *raw0 = _mm256_add_epi32(_mm256_madd_epi16(_mm256_add_epi16(p_lo[0], p_lo[1]), ones),
                           _mm256_madd_epi16(_mm256_add_epi16(p_lo[2], p_lo[3]), ones));
  *raw1 = _mm256_add_epi32(_mm256_madd_epi16(_mm256_add_epi16(p_hi[0], p_hi[1]), ones),
                           _mm256_madd_epi16(_mm256_add_epi16(p_hi[2], p_hi[3]), ones));
}

inline __m256i u8x8(const uint8_t* p) {
  return _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}
inline __m256i i8x8(const int8_t* p) {
  return _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}

// One token against one panel of a K kind (kQ4K / kQ6K), superblock by superblock.
template <PackedKind K>
__m256 panel_token_k(const std::byte* panel, size_t params, int64_t groups, const int8_t* q, const float* d,
                     const int32_t* s16, const int32_t* s32) {
  __m256 acc = _mm256_setzero_ps();
  const auto* codes = reinterpret_cast<const uint8_t*>(panel + params);
  if constexpr (K == PackedKind::kQ4K) {
    for (int64_t s = 0; s < groups / 8; ++s) {
      const auto* sp = reinterpret_cast<const uint8_t*>(panel) + 192 * s;
      const __m256 dd = _mm256_load_ps(reinterpret_cast<const float*>(sp));
      const __m256 dm = _mm256_load_ps(reinterpret_cast<const float*>(sp + 32));
      for (int64_t j = 0; j < 8; ++j) {
        const int64_t g = 8 * s + j;
        const int8_t* qg = q + 32 * g;
        __m256i raw;
        dot_u4<1>(codes + 128 * g, &qg, &raw);
        const __m256i t1 = _mm256_mullo_epi32(u8x8(sp + 64 + 8 * j), raw);
        const __m256i t2 = _mm256_mullo_epi32(u8x8(sp + 128 + 8 * j), _mm256_set1_epi32(s32[g]));
        const __m256 dg = _mm256_set1_ps(d[g]);
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(t1), _mm256_mul_ps(dd, dg), acc);
        acc = _mm256_fnmadd_ps(_mm256_cvtepi32_ps(t2), _mm256_mul_ps(dm, dg), acc);
      }
    }
  } else {
    for (int64_t s = 0; s < groups / 8; ++s) {
      const auto* sp = reinterpret_cast<const uint8_t*>(panel) + 160 * s;
      const __m256 dd = _mm256_load_ps(reinterpret_cast<const float*>(sp));
      const auto* sc = reinterpret_cast<const int8_t*>(sp + 32);
      for (int64_t j = 0; j < 8; ++j) {
        const int64_t g = 8 * s + j;
        __m256i raw0, raw1;
        dot_u6(codes + 192 * g, q + 32 * g, &raw0, &raw1);
        raw0 = _mm256_sub_epi32(raw0, _mm256_set1_epi32(32 * s16[2 * g]));
        raw1 = _mm256_sub_epi32(raw1, _mm256_set1_epi32(32 * s16[2 * g + 1]));
        const __m256i dot = _mm256_add_epi32(_mm256_mullo_epi32(i8x8(sc + 16 * j), raw0),
                                             _mm256_mullo_epi32(i8x8(sc + 16 * j + 8), raw1));
        acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_mul_ps(dd, _mm256_set1_ps(d[g])), acc);
      }
    }
  }
  return acc;
}

// N tokens (rows t0.. of x) against one panel of kQ4 / kQ8; per token the integer sums and the
// f32 updates are those of the scalar variant, in the same order.
template <PackedKind K, bool F16, int N>
void panel_tokens(const std::byte* panel, size_t params, int64_t groups, const QuantizedRows& x, int64_t t0,
                  __m256 acc[N]) {
  const auto* codes = reinterpret_cast<const uint8_t*>(panel + params);
  const int8_t* q[N];
  const float* d[N];
  const int32_t* s32[N];
  for (int i = 0; i < N; ++i) {
    q[i] = x.q.get() + (t0 + i) * x.cols;
    d[i] = x.d.get() + (t0 + i) * groups;
    s32[i] = x.s32.get() + (t0 + i) * groups;
    acc[i] = _mm256_setzero_ps();
  }
  for (int64_t g = 0; g < groups; ++g) {
    __m256 sw;
    if constexpr (F16) {
      sw = _mm256_cvtph_ps(_mm_load_si128(reinterpret_cast<const __m128i*>(panel) + g));
    } else {
      sw = _mm256_load_ps(reinterpret_cast<const float*>(panel) + g * kPanelRows);
    }
    __m256i dot[N];
    if constexpr (K == PackedKind::kQ4) {
      dot_u4<N>(codes + 128 * g, q, dot);
      for (int i = 0; i < N; ++i) dot[i] = _mm256_sub_epi32(dot[i], _mm256_set1_epi32(8 * s32[i][g]));
    } else {
      dot_s8<N>(codes + 256 * g, q, dot);
    }
    for (int i = 0; i < N; ++i) {
      acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot[i]), _mm256_mul_ps(sw, _mm256_set1_ps(d[i][g])), acc[i]);
      q[i] += kQGroup;
    }
  }
}

inline void store_rows(float* out, __m256 acc, int64_t n_rows) {
  if (n_rows == kPanelRows) {
    _mm256_storeu_ps(out, acc);
  } else {
    alignas(32) float tmp[kPanelRows];
    _mm256_store_ps(tmp, acc);
    std::memcpy(out, tmp, static_cast<size_t>(n_rows) * sizeof(float));
  }
}

template <PackedKind K, bool F16>
void run(const PackedMatrix& w, const QuantizedRows& x, float* y, int64_t y_stride, int64_t p0, int64_t p1) {
  const int64_t cols = w.cols(), groups = cols / kQGroup;
  for (int64_t p = p0; p < p1; ++p) {
    const std::byte* panel = w.panel(p);
    const int64_t n_rows = std::min(kPanelRows, w.rows() - p * kPanelRows);
    float* out = y + p * kPanelRows;
    if constexpr (K == PackedKind::kQ4 || K == PackedKind::kQ8) {
      int64_t t = 0;
      for (; t + 4 <= x.rows; t += 4) {
        __m256 acc[4];
        panel_tokens<K, F16, 4>(panel, w.params_bytes(), groups, x, t, acc);
        for (int i = 0; i < 4; ++i) store_rows(out + (t + i) * y_stride, acc[i], n_rows);
      }
      for (; t < x.rows; ++t) {
        __m256 acc[1];
        panel_tokens<K, F16, 1>(panel, w.params_bytes(), groups, x, t, acc);
        store_rows(out + t * y_stride, acc[0], n_rows);
      }
    } else {
      for (int64_t t = 0; t < x.rows; ++t) {
        const __m256 acc = panel_token_k<K>(panel, w.params_bytes(), groups, x.q.get() + t * cols, x.d.get() + t * groups,
                                            x.s16.get() + t * groups * 2, x.s32.get() + t * groups);
        store_rows(out + t * y_stride, acc, n_rows);
      }
    }
  }
}

}  // namespace

void qgemm(const PackedMatrix& w, const QuantizedRows& x, float* y, int64_t y_stride, int64_t panel_begin,
           int64_t panel_end) {
  switch (w.kind()) {
    case PackedKind::kQ4:
      return w.f16_scales() ? run<PackedKind::kQ4, true>(w, x, y, y_stride, panel_begin, panel_end)
                            : run<PackedKind::kQ4, false>(w, x, y, y_stride, panel_begin, panel_end);
    case PackedKind::kQ8:
      return w.f16_scales() ? run<PackedKind::kQ8, true>(w, x, y, y_stride, panel_begin, panel_end)
                            : run<PackedKind::kQ8, false>(w, x, y, y_stride, panel_begin, panel_end);
    case PackedKind::kQ4K: return run<PackedKind::kQ4K, false>(w, x, y, y_stride, panel_begin, panel_end);
    case PackedKind::kQ6K: return run<PackedKind::kQ6K, false>(w, x, y, y_stride, panel_begin, panel_end);
  }
}

void quantize_rows(const float* x, int64_t first, int64_t count, QuantizedRows& out) {
  const int64_t cols = out.cols, groups = cols / kQGroup;
  const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
  const __m256 inf = _mm256_set1_ps(std::numeric_limits<float>::infinity());
  const __m256 lim = _mm256_set1_ps(127.0f), nlim = _mm256_set1_ps(-127.0f);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  for (int64_t t = first; t < first + count; ++t) {
    for (int64_t g = 0; g < groups; ++g) {
      const float* v = x + t * cols + g * kQGroup;
      __m256 xv[4], bad = _mm256_setzero_ps(), mx = _mm256_setzero_ps();
      for (int k = 0; k < 4; ++k) {
        xv[k] = _mm256_loadu_ps(v + 8 * k);
        const __m256 a = _mm256_and_ps(xv[k], abs_mask);
        bad = _mm256_or_ps(bad, _mm256_cmp_ps(a, inf, _CMP_NLT_UQ));
        mx = _mm256_max_ps(mx, a);
      }
      int8_t* q = out.q.get() + t * cols + g * kQGroup;
      const size_t gi = static_cast<size_t>(t * groups + g);
      if (_mm256_movemask_ps(bad) != 0) {
        std::memset(q, 0, kQGroup);
        out.d[gi] = std::numeric_limits<float>::quiet_NaN();
        out.s16[2 * gi] = out.s16[2 * gi + 1] = out.s32[gi] = 0;
        continue;
      }
      const float amax = hmax_ps(mx);
      const __m256 id = _mm256_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
      out.d[gi] = amax / 127.0f;
      __m256i iv[4];
      for (int k = 0; k < 4; ++k) {
        __m256 r = _mm256_round_ps(_mm256_mul_ps(xv[k], id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        r = _mm256_min_ps(lim, _mm256_max_ps(nlim, r));
        iv[k] = _mm256_cvtps_epi32(r);
      }
      const __m256i p01 = _mm256_packs_epi32(iv[0], iv[1]), p23 = _mm256_packs_epi32(iv[2], iv[3]);
      const __m256i b = _mm256_permutevar8x32_epi32(_mm256_packs_epi16(p01, p23), order);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(q), b);
      const int32_t s0 = hsum_epi32(_mm256_add_epi32(iv[0], iv[1])), s1 = hsum_epi32(_mm256_add_epi32(iv[2], iv[3]));
      out.s16[2 * gi] = s0;
      out.s16[2 * gi + 1] = s1;
      out.s32[gi] = s0 + s1;
    }
  }
}

void gemm_f16(const uint16_t* w, bool bf16, int64_t cols, const float* x, int64_t tokens, float* y, int64_t y_stride,
              int64_t row_begin, int64_t row_end) {
  auto load8 = [bf16](const uint16_t* p) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return bf16 ? _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)) : _mm256_cvtph_ps(h);
  };
  for (int64_t r = row_begin; r < row_end; ++r) {
    const uint16_t* wr = w + r * cols;
    for (int64_t t = 0; t < tokens; ++t) {
      const float* xt = x + t * cols;
      __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
      int64_t c = 0;
      for (; c + 32 <= cols; c += 32) {
        a0 = _mm256_fmadd_ps(load8(wr + c), _mm256_loadu_ps(xt + c), a0);
        a1 = _mm256_fmadd_ps(load8(wr + c + 8), _mm256_loadu_ps(xt + c + 8), a1);
        a2 = _mm256_fmadd_ps(load8(wr + c + 16), _mm256_loadu_ps(xt + c + 16), a2);
        a3 = _mm256_fmadd_ps(load8(wr + c + 24), _mm256_loadu_ps(xt + c + 24), a3);
      }
      for (; c + 8 <= cols; c += 8) a0 = _mm256_fmadd_ps(load8(wr + c), _mm256_loadu_ps(xt + c), a0);
      float acc = hsum_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
      for (; c < cols; ++c) {
        const float wv = bf16 ? std::bit_cast<float>(static_cast<uint32_t>(wr[c]) << 16) : _cvtsh_ss(wr[c]);
        acc += wv * xt[c];
      }
      y[t * y_stride + r] = acc;
    }
  }
}

}  // namespace llmrt::kernels::avx2
