// Fused causal scaled-dot-product attention (flash-attention style, f32) for one KV head and
// the query rows that share it:
//
//   out_r = sum_{j in [first_r, last_r]} softmax_j(scale * q_r . k_j) * v_j
//
// computed without materialising a row of scores. Keys are walked in blocks of `block` keys
// (default 64); per query row the kernel keeps a running max m, a running sum l and the
// unnormalised output o (held in the row's `out`), and for each block with scores s_j:
//
//   m' = max(m, max_j s_j),  a = exp(m - m'),  p_j = exp(s_j - m'),
//   l  = a * l + sum_j p_j,  o = a * o + sum_j p_j * v_j,  m = m'      and at the end out = o / l.
//
// Every exponent is <= 0, so nothing overflows however large the scores are. A row whose window
// holds no key (first > last) gets zeros, as the float64 reference does for fully masked rows.
//
// GQA: all query rows of one KV head (the group's heads, times the tokens of a prefill) go in one
// call. Rows are taken in tiles of 16 (e.g. 4 tokens of a 4-head group); within a tile, key
// blocks are the outer loop and rows the inner one, so each K/V block is fetched from memory
// once per tile and served from L1/L2 to its rows, whose accumulators stay in L1. When K/V rows
// are strided (kv_stride != head_dim, e.g. the [context, kv_heads * head_dim] cache) and a tile
// has several rows, the AVX2 variant packs the block into contiguous scratch rows as the first
// row that sees all of it computes with it (rows 2 KiB apart share a few L1 sets and would
// evict each other before the next row comes back). Keys outside a row's [first, last] are
// never read.
//
// Variants: scalar (plain loops, the readable version of the maths) and AVX2+FMA (8 keys at a
// time for q.k with a transposing horizontal-sum tree, 8 lanes of head_dim for p.v, the vector
// exp below). There is no AVX-512 variant yet: kAvx512 dispatches to the AVX2 one (the machines
// this was written on have no AVX-512 to run and test it).
//
// exp: Cephes-style exp_f32 — n = round(x / ln 2), r = x - n ln 2 (ln 2 split in two so r keeps
// its low bits), exp(r) by a degree-5 polynomial on |r| <= ln2/2, times 2^n built in the exponent bits.
// Input is clamped to [-87.3365, 88.3763], where the result and 2^n are normal f32 numbers.
// Max relative error on that range, checked exhaustively over every f32 in it once: 8.46e-8
// (AVX2/FMA) and 8.16e-8 (scalar), i.e. 0.71 eps; kExpMaxRelError = 1e-7 is the bound the test
// holds it to (on 1 in 127 of those values). Below -87.3365 the exact result is under FLT_MIN and
// the function returns FLT_MIN (1.2e-38): an absolute error < FLT_MIN that no softmax can see
// (its largest term is 1). NaN stays NaN. Softmax only ever calls it with x <= 0.
//
// Preconditions (not checked: this is the inner loop): head_dim >= 1, and for every token with
// first_t <= last_t, 0 <= first_t and key rows up to last_t readable (a block < 1 counts as 1).
// `out` must not overlap q, k, v or scratch. Thread-safe: calls share nothing but what the caller passes.
#pragma once

#include <cstddef>
#include <cstdint>

#include "util/cpu_features.h"

namespace llmrt::kernels {

inline constexpr int64_t kAttentionBlock = 64;  // keys per block
// Bound on |exp_f32(x) - exp(x)| / exp(x) for x in [-87.3365, 88.3763].
inline constexpr double kExpMaxRelError = 1e-7;

// The query rows of one KV head: n_tokens tokens times the n_heads query heads of its GQA group.
// Row (t, g) is read from q + t * q_token_stride + g * q_head_stride and written to the same
// place in out, so both of sdpa's layouts — [tokens, heads, head_dim] and [heads, tokens,
// head_dim] — are addressed in place. Limits are per token (a group's heads share them).
struct AttentionArgs {
  const float* q;
  int64_t q_token_stride;   // floats
  int64_t q_head_stride;    // floats
  int64_t n_tokens;
  int64_t n_heads;          // query heads sharing this KV head (GQA group size)
  const int64_t* last;      // [n_tokens]: the last key index the token may see (causal), inclusive
  const int64_t* first;     // [n_tokens]: its first key index (sliding window); nullptr = all 0
  const float* k;           // key row j at k + j * kv_stride
  const float* v;           // value row j at v + j * kv_stride
  int64_t kv_stride;        // floats
  int64_t head_dim;
  float scale;
  float* out;               // row (t, g) at out + t * out_token_stride + g * out_head_stride;
  int64_t out_token_stride; // head_dim floats of each row fully written, nothing else touched
  int64_t out_head_stride;
  float* scratch;           // >= attention_scratch_floats(n_tokens * n_heads, head_dim, block)
                            // floats, caller-owned; no allocation happens inside
  int64_t block = kAttentionBlock;  // keys per block; must match the scratch sizing
};

// Scratch floats one call needs (every variant): 2 per row (running max and sum), one row of
// block scores, and two packed K/V blocks (block x head_dim rounded up to 16, for the AVX2
// variant's copy of strided blocks). For the default block and head_dim 64: 2 n_rows + 8272.
size_t attention_scratch_floats(int64_t n_rows, int64_t head_dim, int64_t block = kAttentionBlock);

void attention(const AttentionArgs& a);  // dispatches on cpu_isa()

using AttentionFn = void (*)(const AttentionArgs&);
AttentionFn attention_kernel(CpuIsa isa);

// y[i] = exp(x[i]) by the polynomial above (the one attention uses); for tests.
using ExpFn = void (*)(const float* src, float* dst, size_t n);
ExpFn exp_kernel(CpuIsa isa);

namespace scalar {
void attention(const AttentionArgs& a);
void exp_f32(const float* src, float* dst, size_t n);
}  // namespace scalar
namespace avx2 {
void attention(const AttentionArgs& a);
void exp_f32(const float* src, float* dst, size_t n);
}  // namespace avx2

}  // namespace llmrt::kernels
