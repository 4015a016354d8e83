// Query-row addressing and per-tile setup shared by the attention variants (internal to
// kernels/cpu/attention*). Plain scalar code with internal linkage: each ISA file gets its own
// copy, so no copy compiled with AVX2 flags can stand in for the scalar variant at link time.
#pragma once

#include <algorithm>
#include <cstdint>
#include <limits>

#include "attention.h"

namespace llmrt::kernels {
namespace {

constexpr int64_t kRowTile = 16;  // query rows whose accumulators stay hot while blocks stream by

// Row r of a call is (token r / n_heads, head r % n_heads).
struct AttentionRows {
  const AttentionArgs& a;
  int64_t first(int64_t t) const { return a.first ? a.first[t] : int64_t{0}; }
  const float* q(int64_t r) const { return a.q + r / a.n_heads * a.q_token_stride + r % a.n_heads * a.q_head_stride; }
  float* out(int64_t r) const { return a.out + r / a.n_heads * a.out_token_stride + r % a.n_heads * a.out_head_stride; }
  // Starts rows [r0, r1): zero outputs, running max -inf and sum 0 (m, l in the scratch), and
  // returns through key_lo/key_hi the keys any of them sees (key_lo > key_hi: none; a row
  // whose window holds no key stays zero).
  void start_tile(int64_t r0, int64_t r1, float* m, float* l, int64_t* key_lo, int64_t* key_hi) const {
    *key_lo = std::numeric_limits<int64_t>::max();
    *key_hi = -1;
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t t = r / a.n_heads;
      std::fill_n(out(r), a.head_dim, 0.0f);
      m[r] = -std::numeric_limits<float>::infinity();
      l[r] = 0;
      if (first(t) > a.last[t]) continue;
      *key_lo = std::min(*key_lo, first(t));
      *key_hi = std::max(*key_hi, a.last[t]);
    }
  }
};

}  // namespace
}  // namespace llmrt::kernels
