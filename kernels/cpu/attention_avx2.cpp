// AVX2 + FMA flash attention (the maths is in attention.h). Per query row and key block:
//   scores  8 keys at a time: 8 accumulators over head_dim, one transposing hadd tree gives
//           the 8 dot products in one vector (no per-key horizontal sum);
//   softmax the vector exp on the block's scores, the padding lanes of a partial vector masked off;
//   p.v     the row's output in up to 8 registers (64 dims) while the block's V rows stream by.
// A head_dim that is not a multiple of 8 finishes with one masked vector. Strided K/V blocks
// shared by several rows are packed into scratch on the way (see attention()).
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <limits>

#include "attention.h"
#include "attention_exp.h"
#include "attention_rows.h"
#include "avx2_reduce.h"

namespace llmrt::kernels::avx2 {
namespace {


inline __m256 exp8(__m256 x) {
  using namespace exp_detail;
  // max/min return their second operand when one is NaN: x second keeps NaN a NaN.
  x = _mm256_min_ps(_mm256_set1_ps(kExpHi), _mm256_max_ps(_mm256_set1_ps(kExpLo), x));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), r);
  __m256 p = _mm256_set1_ps(kP0);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP1));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP2));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP3));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP4));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP5));
  const __m256 y = _mm256_add_ps(_mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r), _mm256_set1_ps(1.0f));
  const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(bits));
}


// Lanes [0, n) set, n in [0, 8].
inline __m256i lane_mask(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

// The 8 horizontal sums of a[0..7], in lane order.
inline __m256 hsum8(const __m256 (&a)[8]) {
  const __m256 t0 = _mm256_hadd_ps(a[0], a[1]), t1 = _mm256_hadd_ps(a[2], a[3]);
  const __m256 t2 = _mm256_hadd_ps(a[4], a[5]), t3 = _mm256_hadd_ps(a[6], a[7]);
  const __m256 u0 = _mm256_hadd_ps(t0, t1), u1 = _mm256_hadd_ps(t2, t3);  // [a0..a3 | a0..a3] halves
  return _mm256_add_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

struct Dims {
  int64_t full;       // head_dim rounded down to a multiple of 8
  __m256i tail_mask;  // lanes of the last partial vector (none when full == head_dim)
  bool has_tail;
};

// Every kernel below can also copy the K/V rows it reads to `dst` (row stride dst_stride): the
// first query row of a tile packs a strided block that way while it computes with it, so the
// copy's loads are the ones the FMAs need anyway, and the tile's other rows read the packed rows.
struct Copy {
  float* dst;
  int64_t dst_stride;
};

// Loads 8 floats at src and (kCopy) stores them at c.dst + at. Offsets stay integers until
// used: without a copy, c.dst is null.
template <bool kCopy>
inline __m256 load_row(const float* src, Copy c, int64_t at) {
  const __m256 x = _mm256_loadu_ps(src);
  if constexpr (kCopy) _mm256_storeu_ps(c.dst + at, x);
  return x;
}

template <bool kCopy>
inline __m256 load_row_masked(const float* src, Copy c, int64_t at, __m256i mask) {
  const __m256 x = _mm256_maskload_ps(src, mask);
  if constexpr (kCopy) _mm256_maskstore_ps(c.dst + at, mask, x);
  return x;
}

// q . k_i for the 8 keys k + i * stride (copied to rows row + i of c).
template <bool kCopy>
[[gnu::always_inline]] inline __m256 dot8(const float* q, const float* k, int64_t stride, Copy c, int64_t row, const Dims& dims) {
  __m256 acc[8];
  for (auto& x : acc) x = _mm256_setzero_ps();
  for (int64_t d = 0; d < dims.full; d += 8) {
    const __m256 qv = _mm256_loadu_ps(q + d);
    for (int i = 0; i < 8; ++i) {
      acc[i] = _mm256_fmadd_ps(qv, load_row<kCopy>(k + i * stride + d, c, (row + i) * c.dst_stride + d), acc[i]);
    }
  }
  if (dims.has_tail) {
    const __m256 qv = _mm256_maskload_ps(q + dims.full, dims.tail_mask);
    for (int i = 0; i < 8; ++i) {
      const __m256 kv = load_row_masked<kCopy>(k + i * stride + dims.full, c, (row + i) * c.dst_stride + dims.full,
                                               dims.tail_mask);
      acc[i] = _mm256_fmadd_ps(qv, kv, acc[i]);
    }
  }
  return hsum8(acc);
}

template <bool kCopy>
[[gnu::always_inline]] inline float dot1(const float* q, const float* k, Copy c, int64_t row, const Dims& dims) {
  const int64_t at = row * c.dst_stride;
  __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
  int64_t d = 0;
  for (; d + 16 <= dims.full; d += 16) {
    acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), load_row<kCopy>(k + d, c, at + d), acc0);
    acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + d + 8), load_row<kCopy>(k + d + 8, c, at + d + 8), acc1);
  }
  if (d < dims.full) acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), load_row<kCopy>(k + d, c, at + d), acc0);
  if (dims.has_tail) {
    acc1 = _mm256_fmadd_ps(_mm256_maskload_ps(q + dims.full, dims.tail_mask),
                           load_row_masked<kCopy>(k + dims.full, c, at + dims.full, dims.tail_mask), acc1);
  }
  return hsum_ps(_mm256_add_ps(acc0, acc1));
}

// o[0, 8 NV) = alpha * o + sum_j p[j] * v_j[0, 8 NV), v_j = v + j * stride (copied to row j,
// column col of c).
template <int NV, bool kCopy>
void pv(float* o, const float* p, const float* v, int64_t stride, Copy c, int64_t col, int64_t n, __m256 alpha) {
  __m256 acc[NV];
  for (int i = 0; i < NV; ++i) acc[i] = _mm256_mul_ps(_mm256_loadu_ps(o + 8 * i), alpha);
  for (int64_t j = 0; j < n; ++j) {
    const __m256 pj = _mm256_broadcast_ss(p + j);
    const float* vj = v + j * stride;
    const int64_t at = j * c.dst_stride + col;
    for (int i = 0; i < NV; ++i) acc[i] = _mm256_fmadd_ps(pj, load_row<kCopy>(vj + 8 * i, c, at + 8 * i), acc[i]);
  }
  for (int i = 0; i < NV; ++i) _mm256_storeu_ps(o + 8 * i, acc[i]);
}

template <bool kCopy>
void pv_masked(float* o, const float* p, const float* v, int64_t stride, Copy c, int64_t col, int64_t n,
               __m256 alpha, __m256i mask) {
  __m256 acc = _mm256_mul_ps(_mm256_maskload_ps(o, mask), alpha);
  for (int64_t j = 0; j < n; ++j) {
    const __m256 vj = load_row_masked<kCopy>(v + j * stride, c, j * c.dst_stride + col, mask);
    acc = _mm256_fmadd_ps(_mm256_broadcast_ss(p + j), vj, acc);
  }
  _mm256_maskstore_ps(o, mask, acc);
}

template <bool kCopy>
void pv_row(float* o, const float* p, const float* v, int64_t stride, Copy c, int64_t n, __m256 alpha,
            const Dims& dims) {
  int64_t d = 0;
  for (; d + 64 <= dims.full; d += 64) pv<8, kCopy>(o + d, p, v + d, stride, c, d, n, alpha);
  switch ((dims.full - d) / 8) {
    case 7: pv<7, kCopy>(o + d, p, v + d, stride, c, d, n, alpha); break;
    case 6: pv<6, kCopy>(o + d, p, v + d, stride, c, d, n, alpha); break;
    case 5: pv<5, kCopy>(o + d, p, v + d, stride, c, d, n, alpha); break;
    case 4: pv<4, kCopy>(o + d, p, v + d, stride, c, d, n, alpha); break;
    case 3: pv<3, kCopy>(o + d, p, v + d, stride, c, d, n, alpha); break;
    case 2: pv<2, kCopy>(o + d, p, v + d, stride, c, d, n, alpha); break;
    case 1: pv<1, kCopy>(o + d, p, v + d, stride, c, d, n, alpha); break;
    default: break;
  }
  if (dims.has_tail) {
    pv_masked<kCopy>(o + dims.full, p, v + dims.full, stride, c, dims.full, n, alpha, dims.tail_mask);
  }
}

// Where one row reads the current block's keys from: n rows at k + j * stride, v + j * stride,
// and (kCopy) where it packs them.
struct BlockRows {
  const float* k;
  const float* v;
  int64_t stride;
  int64_t n;
  Copy k_copy, v_copy;
};

// One row against one block: scores into p, then the online softmax update of (m, l, o).
template <bool kCopy>
void row_block(const float* q, const BlockRows& b, float scale_f, const Dims& dims, float* p, float* o, float& m,
               float& l) {
  const __m256 scale = _mm256_set1_ps(scale_f);
  __m256 vmax = _mm256_set1_ps(-std::numeric_limits<float>::infinity());
  const int64_t n = b.n;
  int64_t j = 0;
  for (; j + 8 <= n; j += 8) {
    const __m256 s = _mm256_mul_ps(dot8<kCopy>(q, b.k + j * b.stride, b.stride, b.k_copy, j, dims), scale);
    _mm256_storeu_ps(p + j, s);
    vmax = _mm256_max_ps(vmax, s);
  }
  float block_max = hmax_ps(vmax);
  for (; j < n; ++j) {
    p[j] = dot1<kCopy>(q, b.k + j * b.stride, b.k_copy, j, dims) * scale_f;
    block_max = std::max(block_max, p[j]);
  }
  const float m_new = std::max(m, block_max);
  const __m256 mv = _mm256_set1_ps(m_new);
  __m256 sum = _mm256_setzero_ps();
  for (j = 0; j + 8 <= n; j += 8) {
    const __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(p + j), mv));
    _mm256_storeu_ps(p + j, e);
    sum = _mm256_add_ps(sum, e);
  }
  if (j < n) {  // the scratch row is padded to whole vectors; lanes past n are dropped
    const __m256 e = _mm256_and_ps(exp8(_mm256_sub_ps(_mm256_loadu_ps(p + j), mv)),
                                   _mm256_castsi256_ps(lane_mask(n - j)));
    _mm256_storeu_ps(p + j, e);
    sum = _mm256_add_ps(sum, e);
  }
  // exp(-inf) on a row's first block gives FLT_MIN, harmless: l and o are still zero.
  const __m256 alpha = exp8(_mm256_set1_ps(m - m_new));
  l = _mm256_cvtss_f32(alpha) * l + hsum_ps(sum);
  m = m_new;
  pv_row<kCopy>(o, p, b.v, b.stride, b.v_copy, n, alpha, dims);
}

// Copies rows [0, n) of src (row stride src_stride) to dst (row stride dst_stride >= hd).
void pack_rows(const float* src, int64_t src_stride, int64_t n, int64_t hd, float* dst, int64_t dst_stride) {
  for (int64_t j = 0; j < n; ++j) std::copy_n(src + j * src_stride, hd, dst + j * dst_stride);
}

}  // namespace

void exp_f32(const float* src, float* dst, size_t n) {
  size_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, exp8(_mm256_loadu_ps(src + i)));
  if (i < n) {
    const __m256i mask = lane_mask(static_cast<int64_t>(n - i));
    _mm256_maskstore_ps(dst + i, mask, exp8(_mm256_maskload_ps(src + i, mask)));
  }
}

void attention(const AttentionArgs& a) {
  const int64_t hd = a.head_dim, block = std::max<int64_t>(a.block, 1), n_rows = a.n_tokens * a.n_heads;
  const Dims dims{hd / 8 * 8, lane_mask(hd % 8), hd % 8 != 0};
  float* m = a.scratch;
  float* l = m + n_rows;
  float* p = l + n_rows;
  // Strided K/V rows (2 KiB apart in a [context, 8 x 64] cache) fall into a handful of L1 sets
  // and evict each other before the tile's next query row comes back to them, so when several
  // rows share a block it is packed into contiguous, 64-byte aligned rows here. Measured on
  // decode (4 rows, head_dim 64, 8 KV heads): 1.3x faster than reading the strided rows four
  // times at context 128-2048, even at 8192 (memory-bound).
  const int64_t packed_stride = (hd + 15) / 16 * 16;
  float* k_pack = reinterpret_cast<float*>((reinterpret_cast<uintptr_t>(p + (block + 7) / 8 * 8) + 63) & ~uintptr_t{63});
  float* v_pack = k_pack + block * packed_stride;
  const AttentionRows rows{a};
  for (int64_t r0 = 0; r0 < n_rows; r0 += kRowTile) {
    const int64_t r1 = std::min(n_rows, r0 + kRowTile);
    int64_t key_lo = 0, key_hi = -1;
    rows.start_tile(r0, r1, m, l, &key_lo, &key_hi);
    const bool pack = r1 - r0 > 1 && a.kv_stride != hd;
    for (int64_t j0 = key_lo; j0 <= key_hi; j0 += block) {
      auto range = [&](int64_t r, int64_t* lo, int64_t* hi) {
        const int64_t t = r / a.n_heads;
        *lo = std::max(j0, rows.first(t));
        *hi = std::min(j0 + block - 1, a.last[t]);
        return *lo <= *hi;
      };
      if (!pack) {
        for (int64_t r = r0; r < r1; ++r) {
          int64_t lo, hi;
          if (!range(r, &lo, &hi)) continue;
          const BlockRows b{a.k + lo * a.kv_stride, a.v + lo * a.kv_stride, a.kv_stride, hi - lo + 1, {}, {}};
          row_block<false>(rows.q(r), b, a.scale, dims, p, rows.out(r), m[r], l[r]);
        }
        continue;
      }
      // The keys any row of the tile sees in this block, and a row that sees all of them (the
      // packer), if there is one.
      int64_t union_lo = std::numeric_limits<int64_t>::max(), union_hi = -1, packer = -1;
      for (int64_t r = r0; r < r1; ++r) {
        int64_t lo, hi;
        if (!range(r, &lo, &hi)) continue;
        union_lo = std::min(union_lo, lo);
        union_hi = std::max(union_hi, hi);
      }
      if (union_hi < union_lo) continue;
      for (int64_t r = r0; r < r1 && packer < 0; ++r) {
        int64_t lo, hi;
        if (range(r, &lo, &hi) && lo == union_lo && hi == union_hi) packer = r;
      }
      if (packer >= 0) {
        const BlockRows b{a.k + union_lo * a.kv_stride, a.v + union_lo * a.kv_stride, a.kv_stride,
                          union_hi - union_lo + 1,     {k_pack, packed_stride},       {v_pack, packed_stride}};
        row_block<true>(rows.q(packer), b, a.scale, dims, p, rows.out(packer), m[packer], l[packer]);
      } else {
        pack_rows(a.k + union_lo * a.kv_stride, a.kv_stride, union_hi - union_lo + 1, hd, k_pack, packed_stride);
        pack_rows(a.v + union_lo * a.kv_stride, a.kv_stride, union_hi - union_lo + 1, hd, v_pack, packed_stride);
      }
      for (int64_t r = r0; r < r1; ++r) {
        int64_t lo, hi;
        if (r == packer || !range(r, &lo, &hi)) continue;
        const int64_t off = (lo - union_lo) * packed_stride;
        const BlockRows b{k_pack + off, v_pack + off, packed_stride, hi - lo + 1, {}, {}};
        row_block<false>(rows.q(r), b, a.scale, dims, p, rows.out(r), m[r], l[r]);
      }
    }
    for (int64_t r = r0; r < r1; ++r) {
      if (l[r] == 0) continue;
      const float inv = 1.0f / l[r];
      float* o = rows.out(r);
      int64_t d = 0;
      for (; d + 8 <= hd; d += 8) _mm256_storeu_ps(o + d, _mm256_mul_ps(_mm256_loadu_ps(o + d), _mm256_set1_ps(inv)));
      for (; d < hd; ++d) o[d] *= inv;
    }
  }
}

}  // namespace llmrt::kernels::avx2
